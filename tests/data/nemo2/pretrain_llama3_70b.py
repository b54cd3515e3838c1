# A NeMo 2.0 pretraining launch in the shape of the framework's own quick-start scripts: a recipe
# from the catalog of nemo/collections/llm/recipes, a few settings changed on it, and NeMo-Run
# running it with torchrun on one node. `foresight import nemo -- python pretrain_llama3_70b.py`
# reads the recipe call, the `recipe.` assignments and the communication-overlap callback; it
# does not run the script.
import nemo_run as run

from nemo.collections import llm
from nemo.collections.llm.recipes.precision.mixed_precision import bf16_with_fp8_mixed
from nemo.lightning.pytorch.callbacks.megatron_comm_overlap import MegatronCommOverlapCallback


def configure_recipe(nodes: int = 2, gpus_per_node: int = 8):
    recipe = llm.llama3_70b.pretrain_recipe(
        dir="/checkpoints/llama3_70b",
        name="llama3_70b_fp8",
        num_nodes=nodes,
        num_gpus_per_node=gpus_per_node,
    )
    recipe.trainer.strategy.tensor_model_parallel_size = 8
    recipe.trainer.strategy.pipeline_model_parallel_size = 2
    recipe.trainer.strategy.context_parallel_size = 1
    recipe.trainer.strategy.virtual_pipeline_model_parallel_size = None  # plain 1F1B
    recipe.data.global_batch_size = 128
    recipe.data.seq_length = 4096
    recipe.model.config.seq_length = 4096
    recipe.trainer.max_steps = 100
    recipe.trainer.plugins = bf16_with_fp8_mixed()
    recipe.trainer.callbacks.append(
        run.Config(MegatronCommOverlapCallback, tp_comm_overlap=True)
    )
    return recipe


if __name__ == "__main__":
    run.run(configure_recipe(), executor=run.LocalExecutor(ntasks_per_node=8, launcher="torchrun"))
