#!/bin/bash
# benchcmp.sh OLD NEW [RUNS] [WORKLOAD ...]: times vmm run, record and
# replay of each workload with two vmm binaries, interleaved so that both
# see the same machine load, and prints the median seconds of each and
# the new/old ratio per mode. Build OLD from an earlier commit with
#   git worktree add /tmp/old REV && (cd /tmp/old && make vmm)
set -euo pipefail
old=$1 new=$2 runs=${3:-5}
shift $(( $# < 3 ? $# : 3 ))
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=("matmul 400" "pingpong 2000" "adv-bts" "adv-twomem 2000")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
secs() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; echo "$(date +%s.%N) - $s" | bc; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-18s %-7s %9s %9s %7s\n' workload mode old_s new_s new/old
for w in "${workloads[@]}"; do
	for mode in run record replay; do
		: >"$tmp/old" ; : >"$tmp/new"
		for _ in $(seq "$runs"); do
			for b in old new; do
				bin=$old; [ $b = new ] && bin=$new
				case $mode in
				run) secs "$bin" run --cpus 2 $w >>"$tmp/$b" ;;
				record) secs "$bin" record -o "$tmp/$b.log" --cpus 2 $w >>"$tmp/$b" ;;
				replay) secs "$bin" replay "$tmp/$b.log" >>"$tmp/$b" ;;
				esac
			done
		done
		o=$(median <"$tmp/old") n=$(median <"$tmp/new")
		printf '%-18s %-7s %9.3f %9.3f %7.2f\n' "$w" $mode "$o" "$n" "$(echo "$n / $o" | bc -l)"
	done
done
