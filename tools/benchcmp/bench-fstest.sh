#!/bin/bash
# fstest on a whole generated test file: run (both modes), record and
# replay, per kernel, each timed (BENCHMARKS.md section 8).
# Usage: [V=bin/vmm] [F=posix.tests] tools/benchcmp/bench-fstest.sh
set -u
V=${V:-bin/vmm}
F=${F:-posix.tests}
for k in mono scalable; do
  for mode in sequential concurrent; do
    s=$(date +%s.%N); $V run --cpus 2 --tests $F fstest $k $mode > /tmp/b.out 2>&1; e=$(date +%s.%N)
    echo "run $k $mode $(echo "$e - $s" | bc) $(tail -1 /tmp/b.out)"
  done
  s=$(date +%s.%N); $V record -o /tmp/b-$k.log --cpus 2 --tests $F fstest $k > /tmp/b.out 2>&1; e=$(date +%s.%N)
  echo "record $k sequential $(echo "$e - $s" | bc) $(grep 'tests run' /tmp/b.out) $(grep transitions /tmp/b.out)"
  s=$(date +%s.%N); $V replay /tmp/b-$k.log > /tmp/b.out 2>&1; e=$(date +%s.%N)
  echo "replay $k sequential $(echo "$e - $s" | bc) $(tail -1 /tmp/b.out) $(ls -la /tmp/b-$k.log | awk '{print $5}')"
done
