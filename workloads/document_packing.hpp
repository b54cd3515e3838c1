#pragma once
// Variable-length training data: the lengths of a data set's documents and how they become
// sequences of `sequence` tokens (docs/training.md, "Documents and packing").
//  - concat: documents packed end to end and cut at sequence boundaries, attention running
//    across them (causal over the whole sequence): the cost does not depend on the lengths.
//  - mask: packed the same way under a document mask (Llama 3's intra-document attention):
//    a token's query meets only its own document's earlier keys. Over the pieces p the
//    sequences cut documents into, a token meets E[p^2] / (2 E[p]) keys on average, what
//    documents of E[p^2] / E[p] tokens each would give: that is the length attention sees.
//  - pad: one document per sequence, cut at the sequence length and padded: every token is
//    computed, E[min(l, sequence)] / sequence of them are data.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace foresight {

enum class Packing { kConcat, kMask, kPad };

// How a step's sequences are dealt to the DP ranks: at random (a shuffling sampler's, Megatron's
// and torchtitan's), or by their masked attention work, largest first to the rank with the least
// so far among those with room (a balancing loader's; the longest-processing-time rule).
enum class DocumentBalance { kRandom, kCost };

// How context parallelism cuts a packed sequence over its cp ranks. Either way a span is cut
// into 2 x cp chunks and rank c takes chunks c and 2cp-1-c, which gives every rank the same
// share of one causal document:
//  - document: each document is such a span (Transformer Engine's THD format, which Megatron
//    runs packed sequences in; WLB-LLM's per-document sharding): the ranks' work is equal.
//  - sequence: the packed sequence is the span (Llama 3's all-gather CP under a document
//    mask): a rank's work depends on where the documents fall.
enum class CpSplit { kDocument, kSequence };

struct DocumentLengths {
  std::string distribution;  // fixed, uniform, lognormal or trace
  std::int64_t tokens = 0;   // fixed
  std::int64_t min = 0, max = 0;  // uniform, inclusive
  double median = 0, sigma = 0;   // lognormal: median and the log's standard deviation
  std::shared_ptr<const std::vector<double>> trace = nullptr;  // trace: a data set's lengths, sorted (shared: configs are copied)
};

// The lengths in column `column` of the CSV file at `path`, sorted: one document a row, each
// a whole number of tokens from 1 to 100 million. Throws InputError naming the file and line.
std::shared_ptr<const std::vector<double>> read_document_lengths(const std::string& path, const std::string& column);

struct PackedDocuments {
  double mean_tokens = 0;          // E[l]
  double masked_length = 0;        // E[p^2] / E[p] over the pieces sequences cut documents into
  double useful_fraction = 1;      // padded: E[min(l, sequence)] / sequence
};

PackedDocuments pack_documents(const DocumentLengths& lengths, std::int64_t sequence);

// Under a document mask a sequence's attention work is the sum of its pieces' squares, which
// differs from sequence to sequence, so DP ranks given `sequences_per_rank` sequences each
// finish their attention at different times and the step waits for the slowest: E[max over
// `ranks` of a rank's work] / E[a rank's work]. Sequences are packed from a seeded stream of
// documents and dealt to the ranks as `balance` says, `steps` times; 1 for fixed lengths that
// divide the sequence, or one rank.
double masked_attention_imbalance(const DocumentLengths& lengths, std::int64_t sequence, std::int64_t sequences_per_rank,
                                  std::int64_t ranks, DocumentBalance balance = DocumentBalance::kRandom, int steps = 200,
                                  std::uint64_t seed = 0x5eedULL);

// How a replica's micro-batches are packed from documents: end to end (random), or by
// workload (cost: the step's documents, longest first, each to the micro-batch with the least
// so far; WLB-LLM's workload-aware packing). With cost, `max_tokens` over 1 lets a micro-batch
// hold up to that many times its nominal tokens (WLB-LLM's variable-length packing: those with
// short documents take more of them), and `attention_fraction`, attention's share of a
// micro-batch's compute at the mean, weighs its attention work against its tokens. With cost,
// `outlier_tokens` over 0 delays every piece of at least that many tokens until each
// micro-batch can take one (WLB-LLM's outlier delay): over many steps each micro-batch then
// carries the same share of them, and the step is taken as that long-run mean, each
// micro-batch holding 1 / micro_batches of the outliers' tokens and work.
struct MicroBatchPacking {
  DocumentBalance balance = DocumentBalance::kRandom;
  double max_tokens = 1;
  double attention_fraction = 1;
  double outlier_tokens = 0;
};

// A replica's `micro_batches` micro-batches of `sequences` sequences of `sequence` tokens,
// cut over `cp` ranks as `split` says: each one's tokens over the nominal (1 at a fixed
// length) and its masked attention work on each CP rank (micro_batches x cp, row-major), each
// over its mean so that they average 1 (all 1 past 20 million documents, or 2 million packed
// by cost). Packed by cost, the attention is over the same documents' mean packed end to end:
// cut less often, they average 1 or more. Pipeline stages run a micro-batch's layers at its
// own cost, and a CP group's collectives wait for its slowest rank.
struct MicroBatchWork {
  std::vector<double> tokens;
  std::vector<double> attention;
};
MicroBatchWork micro_batch_work(const DocumentLengths& lengths, std::int64_t sequence, std::int64_t sequences, int micro_batches,
                                int cp, CpSplit split, const MicroBatchPacking& packing, std::uint64_t seed);

// How padded sequences (packing pad, one document each) are padded: to sequence_length; to
// each micro-batch's longest document (Hugging Face's padding="longest"); so after grouping
// the step's documents by length, the shortest together (length-grouped sampling, the
// bucketing DynaPipe's dynamic micro-batching builds on); or, grouped by length, with as many
// documents in each micro-batch as evens out their work (DynaPipe's dynamic micro-batch
// sizes, at a fixed micro-batch count).
enum class PadTo { kSequence, kLongest, kBucketed, kBalanced };

// A replica's `micro_batches` micro-batches of `sequences` padded documents each (on average,
// with kBalanced), padded as `pad_to` says: each one's tokens and causal attention work over a
// micro-batch padded to `sequence` (micro_batches x cp alike, every CP rank the same). Unlike
// micro_batch_work's they are not normalized: less padding, less work. kBalanced weighs a
// micro-batch's attention against its tokens by `attention_fraction`, attention's share of a
// layer's compute at the nominal shape, and plans for `stages` pipeline stages.
MicroBatchWork padded_micro_batch_work(const DocumentLengths& lengths, std::int64_t sequence, std::int64_t sequences,
                                       int micro_batches, int cp, PadTo pad_to, std::uint64_t seed,
                                       double attention_fraction = 0, int stages = 1);

// The step's documents, sorted by length, cut into `micro_batches` runs of consecutive ones,
// each padded to its longest, no run holding more padded tokens than `sequences` x `sequence`:
// the ends of the runs (each past its last document). A run costs (1 - f) x its padded tokens +
// f x its causal attention, each over the nominal micro-batch's; the cut sought makes the
// runs' sum plus (stages - 1) x the costliest least, a 1F1B pipeline's time (the objective
// DynaPipe's planner weighs, at a fixed micro-batch count): from the least ceiling on a run's
// cost up, the fewest runs under each, split where that saves most.
std::vector<std::size_t> balanced_runs(const std::vector<double>& sorted_lengths, std::int64_t sequence, std::int64_t sequences,
                                       int micro_batches, double f, int stages);

// micro_batch_work's attention shares at a fixed length.
std::vector<double> micro_batch_attention_shares(const DocumentLengths& lengths, std::int64_t sequence, std::int64_t sequences,
                                                 int micro_batches, int cp, CpSplit split, DocumentBalance balance,
                                                 std::uint64_t seed);

// The standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9).
double normal_quantile(double p);

}  // namespace foresight
