#!/usr/bin/env python3
"""How much PyTorch's lock-step execution of interleaved 1F1B costs over dependency-driven
execution (docs/training.md, "Known gaps").

torch.distributed.pipelining's multi-stage schedules (PipelineScheduleMulti, 2024) lay the
schedule out as a grid of time steps, one compute action (or none) per rank per step, and
end every step with one batched send/recv with the neighbours that the grid says exchange
data in it; the next step waits for that batch. A transfer in step t therefore starts when
both the sender and the receiver have finished their step-t compute, and both wait for it.
Dependency-driven execution (what foresight's training graph does) lets a rank start as
soon as its own inputs have arrived.

Usage: python3 scripts/pipeline_lockstep.py [--stages 8 --chunks 2 --micro-batches 8
       --forward 0.5 --backward 1.5 --transfer 0.0025]
The defaults are torchtitan's Llama 3.1 405B interleaved run (V8: that release's 8
micro-batches of 4) in units of one micro-batch of four through a whole stage: a chunk
forward is half of it, the backward with full recomputation three forwards, a transfer about
0.5% of a chunk forward. `--micro-batches 16 --forward 0.125 --backward 0.375 --transfer
0.00125` is the later releases' default, 16 micro-batches of 2.
"""
import argparse


def interleaved_orders(stages, chunks, micro_batches):
    """Each rank's (work, micro-batch, chunk) list and its warm-up length (Megatron's order,
    which PyTorch's ScheduleInterleaved1F1B shares)."""
    units = micro_batches * chunks

    def unit(k, forward):
        within = k % (stages * chunks)
        chunk = within // stages if forward else chunks - 1 - within // stages
        return ("F" if forward else "B", (k // (stages * chunks)) * stages + within % stages, chunk)

    orders = []
    for rank in range(stages):
        warm = min(2 * (stages - 1 - rank) + (chunks - 1) * stages, units)
        order = [unit(k, True) for k in range(warm)]
        for j in range(units - warm):
            order += [unit(warm + j, True), unit(j, False)]
        order += [unit(k, False) for k in range(units - warm, units)]
        orders.append((order, warm))
    return orders


def time_step_grid(stages, chunks, micro_batches):
    """PyTorch's grid: `rank` idle steps first, the warm-up, idle steps until the first
    backward can arrive, forward/backward pairs, then an idle step before each cool-down
    backward (schedules.py's _get_1f1b_rank_ops)."""
    grid = []
    for rank, (order, warm) in enumerate(interleaved_orders(stages, chunks, micro_batches)):
        row = [None] * rank + order[:warm]
        row += [None] * (chunks * stages + 2 * (stages - 1 - rank) - (warm + rank))
        steady = micro_batches * chunks - warm
        row += order[warm:warm + 2 * steady]
        for backward in order[warm + 2 * steady:]:
            row += [None, backward]
        grid.append(row)
    return grid


def lockstep_makespan(stages, chunks, micro_batches, forward, backward, transfer):
    grid = time_step_grid(stages, chunks, micro_batches)
    last_stage = stages * chunks - 1
    end = [0.0] * stages
    for t in range(max(len(row) for row in grid)):
        actions = [row[t] if t < len(row) else None for row in grid]
        computed = [end[r] + (0 if a is None else forward if a[0] == "F" else backward) for r, a in enumerate(actions)]
        after = computed[:]
        for rank, action in enumerate(actions):
            if action is None:
                continue
            virtual = action[2] * stages + rank
            if action[0] == "F" and virtual < last_stage:
                peer = (rank + 1) % stages
            elif action[0] == "B" and virtual > 0:
                peer = (rank - 1) % stages
            else:
                continue
            done = max(computed[rank], computed[peer]) + transfer
            after[rank] = max(after[rank], done)
            after[peer] = max(after[peer], done)
        end = after
    return max(end)


def dependency_makespan(stages, chunks, micro_batches, forward, backward, transfer):
    orders = [order for order, _ in interleaved_orders(stages, chunks, micro_batches)]
    last_stage = stages * chunks - 1
    finished, position, clock = {}, [0] * stages, [0.0] * stages
    progressed = True
    while progressed:
        progressed = False
        for rank in range(stages):
            while position[rank] < len(orders[rank]):
                work, mb, chunk = orders[rank][position[rank]]
                virtual = chunk * stages + rank
                if work == "F":
                    needs, crossing = (("F", mb, virtual - 1), transfer) if virtual > 0 else (None, 0)
                elif virtual < last_stage:
                    needs, crossing = ("B", mb, virtual + 1), transfer
                else:
                    needs, crossing = ("F", mb, virtual), 0
                if needs is not None and needs not in finished:
                    break
                start = max(clock[rank], finished[needs] + crossing if needs else 0)
                clock[rank] = start + (forward if work == "F" else backward)
                finished[(work, mb, virtual)] = clock[rank]
                position[rank] += 1
                progressed = True
    return max(clock)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=2)
    parser.add_argument("--micro-batches", type=int, default=8)
    parser.add_argument("--forward", type=float, default=0.5)
    parser.add_argument("--backward", type=float, default=1.5)
    parser.add_argument("--transfer", type=float, default=0.0025)
    a = parser.parse_args()
    shape = (a.stages, a.chunks, a.micro_batches, a.forward, a.backward)
    for transfer in (0.0, a.transfer):
        lock = lockstep_makespan(*shape, transfer)
        free = dependency_makespan(*shape, transfer)
        print(f"transfer {transfer:g}: lock-step {lock:.4f}, dependency-driven {free:.4f}, lock-step costs {100 * (lock / free - 1):+.2f}%")


if __name__ == "__main__":
    main()
