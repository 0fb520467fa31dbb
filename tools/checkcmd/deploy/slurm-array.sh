#!/bin/bash
# vmm check sharded over a Slurm job array: each array task runs one slice
# (--shard N takes its index from SLURM_ARRAY_TASK_ID), and a dependent
# job merges them:
#
#   vmm testgen --model posix -o $DATA/posix.tests
#   id=$(sbatch --parsable --array=0-7 slurm-array.sh)
#   sbatch --dependency=afterok:$id --wrap "vmm check merge --out $DATA/report $DATA/shard-*"
#
# The nodes need /dev/kvm; DATA is a directory every node sees.
#SBATCH --job-name=vmm-check
#SBATCH --cpus-per-task=2
#SBATCH --mem=2G
#SBATCH --time=02:00:00
set -eu
DATA=${DATA:-$HOME/vmm-check}
N=$((SLURM_ARRAY_TASK_MAX - SLURM_ARRAY_TASK_MIN + 1))
exec vmm check --tests "$DATA/posix.tests" --shard "$N" --out "$DATA/shard-$SLURM_ARRAY_TASK_ID" --resume
