#!/usr/bin/env bash
# Tables and plots from the CSV of tests/bench/run.sh:
#
#   tests/bench/report.sh [CSV [OUT_DIR]]     (defaults build/bench/results.csv, build/bench)
#
# Writes OUT_DIR/results.md (medians over the runs: the drain table with the ratios to Debezium
# and to the pg_recvlogical ceiling, latency percentiles per offered load, scaling with the
# backlog and with the number of sources, and the goals of README "Performance", each met or
# missed) and prints it; with gnuplot, also OUT_DIR/drain.png, latency.png and scaling.png.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CSV=${1:-$REPO/build/bench/results.csv}
OUT=${2:-$(dirname "$CSV")}
[ -f "$CSV" ] || { echo "report.sh: $CSV not found" >&2; exit 1; }
CSV=$(realpath "$CSV") OUT=$(realpath "$OUT")   # the plots are made from inside OUT
MD=$OUT/results.md

# columns of the CSV
declare -A COL=([phase]=1 [system]=2 [variant]=3 [run]=4 [events]=5 [ms]=6 [first_ms]=7
  [events_per_s]=8 [steady_events_per_s]=9 [cpu_s]=10 [server_cpu_s]=11 [peak_rss_kb]=12
  [count]=13 [p50_ms]=14 [p99_ms]=15 [p999_ms]=16 [offered]=17 [achieved]=18
  [append_p50_ms]=19 [append_p99_ms]=20 [fetch_p50_ms]=21 [fetch_p99_ms]=22)

# med PHASE SYSTEM VARIANT FIELD: the median of FIELD over the matching lines ("" if none).
med() {
  awk -F, -v p="$1" -v s="$2" -v v="$3" -v c="${COL[$4]}" \
    'NR > 1 && $1 == p && $2 == s && (v == "" || $3 == v) && $c != "" { print $c }' "$CSV" \
    | sort -g | awk '{ x[NR] = $1 } END { if (NR == 0) exit
        if (NR % 2) print x[(NR + 1) / 2]; else print (x[NR / 2] + x[NR / 2 + 1]) / 2 }'
}

runs() {
  awk -F, -v p="$1" -v s="$2" -v v="$3" \
    'NR > 1 && $1 == p && $2 == s && (v == "" || $3 == v) { n++ } END { print n + 0 }' "$CSV"
}

# distinct PHASE FIELD: the values FIELD takes in PHASE, in order of first appearance.
distinct() {
  awk -F, -v p="$1" -v c="${COL[$2]}" 'NR > 1 && $1 == p && !seen[$c]++ { print $c }' "$CSV"
}

fmt() { awk -v x="$1" -v f="$2" 'BEGIN { if (x == "") print "–"; else printf f, x }'; }
mib() { fmt "$(awk -v k="$1" 'BEGIN { if (k != "") print k / 1024 }')" "%.1f MiB"; }
per_million() { fmt "$(awk -v c="$1" -v n="$2" 'BEGIN { if (c != "") print c * 1e6 / n }')" %.1f; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "–"; else printf "%.2f", a / b }'; }

{
  echo "Machine: $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)," \
       "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; CSV: ${CSV#"$REPO"/}"
  echo

  if [ -n "$(distinct drain system)" ]; then
    ceil=$(med drain pg_recvlogical "" events_per_s)
    dbz=$(med drain debezium "" events_per_s)
    dbz_rss=$(med drain debezium "" peak_rss_kb)
    echo "### Drain: $(med drain "$(distinct drain system | head -n 1)" "" events | awk '{ printf "%d", $1 }') events, median of $(runs drain "$(distinct drain system | head -n 1)" "") runs"
    echo
    echo "| system | events/s | steady events/s | first record after | CPU s | PostgreSQL CPU s | peak RSS | × Debezium | of ceiling | Debezium RSS ÷ |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for s in $(distinct drain system); do
      rate=$(med drain "$s" "" events_per_s)
      rss=$(med drain "$s" "" peak_rss_kb)
      echo "| $s | $(fmt "$rate" %.0f) | $(fmt "$(med drain "$s" "" steady_events_per_s)" %.0f)" \
           "| $(fmt "$(med drain "$s" "" first_ms)" "%.0f ms") | $(fmt "$(med drain "$s" "" cpu_s)" %.1f)" \
           "| $(fmt "$(med drain "$s" "" server_cpu_s)" %.1f) | $(mib "$rss")" \
           "| $(ratio "$rate" "$dbz") | $(ratio "$rate" "$ceil") | $(ratio "$dbz_rss" "$rss") |"
    done
    echo
  fi

  if [ -n "$(distinct latency system)" ]; then
    echo "### Latency from insert to consumer, ms (p50 / p99 / p99.9)"
    echo
    rates=$(distinct latency variant)
    printf "| system |"; for r in $rates; do printf " %s events/s |" "$r"; done; echo
    printf "|---|"; for r in $rates; do printf -- "---|"; done; echo
    for s in $(distinct latency system); do
      printf "| %s |" "$s"
      for r in $rates; do
        printf " %s / %s / %s (%s/s achieved) |" "$(fmt "$(med latency "$s" "$r" p50_ms)" %.1f)" \
          "$(fmt "$(med latency "$s" "$r" p99_ms)" %.1f)" "$(fmt "$(med latency "$s" "$r" p999_ms)" %.1f)" \
          "$(fmt "$(med latency "$s" "$r" achieved)" %.0f)"
      done
      echo
    done
    echo
    if [ -n "$(awk -F, 'NR > 1 && $1 == "latency" && $20 != ""' "$CSV")" ]; then
      echo "Where it goes, ms (p50 / p99): from the insert to the broker's append (database,"
      echo "decoding, the system under test, the producer's batching, the Produce round trip),"
      echo "then from the append to the consumer (the latency topics are stamped LogAppendTime):"
      echo
      printf "| system |"; for r in $rates; do printf " %s: to append | %s: to consumer |" "$r" "$r"; done; echo
      printf "|---|"; for r in $rates; do printf -- "---|---|"; done; echo
      for s in $(distinct latency system); do
        printf "| %s |" "$s"
        for r in $rates; do
          printf " %s / %s | %s / %s |" "$(fmt "$(med latency "$s" "$r" append_p50_ms)" %.1f)" \
            "$(fmt "$(med latency "$s" "$r" append_p99_ms)" %.1f)" \
            "$(fmt "$(med latency "$s" "$r" fetch_p50_ms)" %.1f)" \
            "$(fmt "$(med latency "$s" "$r" fetch_p99_ms)" %.1f)"
        done
        echo
      done
      echo
    fi
  fi

  if [ -n "$(distinct scaling system)" ]; then
    echo "### Scaling with the backlog"
    echo
    echo "| system | events | events/s | CPU s per million events | PostgreSQL CPU s per million | peak RSS |"
    echo "|---|---|---|---|---|---|"
    for s in $(distinct scaling system); do
      for n in $(distinct scaling variant); do
        rate=$(med scaling "$s" "$n" events_per_s)
        [ -n "$rate" ] || continue
        echo "| $s | $n | $(fmt "$rate" %.0f)" \
             "| $(per_million "$(med scaling "$s" "$n" cpu_s)" "$n")" \
             "| $(per_million "$(med scaling "$s" "$n" server_cpu_s)" "$n")" \
             "| $(mib "$(med scaling "$s" "$n" peak_rss_kb)") |"
      done
    done
    echo
  fi

  if [ -n "$(distinct sources system)" ]; then
    echo "### Sources in one daemon (events in all, split evenly between the sources' tables)"
    echo
    echo "| mode | sources | events/s | CPU s | PostgreSQL CPU s | peak RSS |"
    echo "|---|---|---|---|---|---|"
    for s in $(distinct sources system); do
      for k in $(distinct sources variant); do
        rate=$(med sources "$s" "$k" events_per_s)
        [ -n "$rate" ] || continue
        echo "| $s | $k | $(fmt "$rate" %.0f) | $(fmt "$(med sources "$s" "$k" cpu_s)" %.1f)" \
             "| $(fmt "$(med sources "$s" "$k" server_cpu_s)" %.1f)" \
             "| $(mib "$(med sources "$s" "$k" peak_rss_kb)") |"
      done
    done
    echo
  fi

  echo "### Goals"
  echo
  goal() {  # goal TEXT VALUE OP LIMIT
    local verdict
    if [ -z "$2" ] || [ "$2" = "–" ]; then verdict="not measured"
    elif awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { exit !(op == ">=" ? v >= l : v <= l) }'; then
      verdict="met"
    else verdict="**missed**"; fi
    echo "- $1: $2 (goal $3 $4): $verdict"
  }
  lj=$(med drain relay-logical-json "" events_per_s)
  goal "logical drain ÷ pg_recvlogical" "$(ratio "$lj" "$(med drain pg_recvlogical "" events_per_s)")" ">=" 0.80
  goal "logical drain ÷ Debezium" "$(ratio "$lj" "$(med drain debezium "" events_per_s)")" ">=" 3
  goal "logical peak RSS ÷ Debezium's" "$(ratio "$(med drain relay-logical-json "" peak_rss_kb)" "$(med drain debezium "" peak_rss_kb)")" "<=" 0.05
  goal "p99 latency at 5,000 events/s, logical (ms)" "$(med latency relay-logical-json 5000 p99_ms)" "<=" 25
  goal "poll drain (events/s)" "$(fmt "$(med drain relay-poll "" events_per_s)" %.0f)" ">=" 50000
} >"$MD"
cat "$MD"

command -v gnuplot >/dev/null 2>&1 || { echo "report.sh: gnuplot not found, no plots" >&2; exit 0; }

# data files for gnuplot
for s in $(distinct drain system); do
  echo "$s $(med drain "$s" "" events_per_s) $(med drain "$s" "" steady_events_per_s || true)"
done >"$OUT/drain.dat"
{
  for r in $(distinct latency variant); do
    printf "%s" "$r"
    for s in $(distinct latency system); do
      printf " %s %s" "$(med latency "$s" "$r" p50_ms)" "$(med latency "$s" "$r" p99_ms)"
    done
    echo
  done
} >"$OUT/latency.dat"
for s in $(distinct scaling system); do
  for n in $(distinct scaling variant); do
    [ -n "$(med scaling "$s" "$n" events_per_s)" ] || continue
    echo "$n $(med scaling "$s" "$n" events_per_s) $(awk -v k="$(med scaling "$s" "$n" peak_rss_kb)" 'BEGIN { print k / 1024 }')"
  done >"$OUT/scaling-$s.dat"
done
for s in $(distinct sources system); do
  for k in $(distinct sources variant); do
    [ -n "$(med sources "$s" "$k" events_per_s)" ] || continue
    echo "$k $(med sources "$s" "$k" events_per_s) $(awk -v k="$(med sources "$s" "$k" peak_rss_kb)" 'BEGIN { print k / 1024 }')"
  done >"$OUT/sources-$s.dat"
done

cd "$OUT"
if [ -s drain.dat ]; then
  gnuplot <<'EOF'
set terminal pngcairo size 900,500 font ",10"
set output "drain.png"
set termoption noenhanced
set title "Draining the backlog: events/s (median), from start and from first record to last"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set ylabel "events/s"
set yrange [0:*]
set grid ytics
set key outside bottom center horizontal
plot "drain.dat" using 2:xtic(1) title "from start", "" using 3 title "first record to last", \
     "" using ($0 - 0.17):2:(sprintf("%.0f", $2)) with labels offset 0,0.7 notitle, \
     "" using ($0 + 0.17):($3 > 0 ? $3 : 1/0):(sprintf("%.0f", $3)) with labels offset 0,0.7 notitle
EOF
fi
if [ -s latency.dat ]; then
  systems=$(distinct latency system | tr '\n' ' ')
  gnuplot <<EOF
set terminal pngcairo size 900,500 font ",10"
set output "latency.png"
set termoption noenhanced
set title "Latency from insert to consumer (median run): p50 (solid) and p99 (dashed)"
set xlabel "offered load, events/s"
set ylabel "ms"
set logscale y
set grid
set key top left
systems = "$systems"
plot for [i=1:words(systems)] "latency.dat" using 1:(column(2*i)) with linespoints lw 2 lc i dt 1 title word(systems, i)." p50", \
     for [i=1:words(systems)] "latency.dat" using 1:(column(2*i+1)) with linespoints lw 2 lc i dt 2 title word(systems, i)." p99"
EOF
fi
if ls scaling-*.dat >/dev/null 2>&1; then
  gnuplot <<'EOF'
set terminal pngcairo size 1200,450 font ",10"
set output "scaling.png"
set termoption noenhanced
set multiplot layout 1,3 title "Scaling"
set grid
set key bottom right
set logscale x
set format x "%.0s%c"
set xlabel "backlog, events"
set ylabel "events/s"
set yrange [0:*]
files = system("ls scaling-*.dat")
plot for [f in files] f using 1:2 with linespoints lw 2 title f[9:strlen(f)-4]
set ylabel "peak RSS, MiB"
plot for [f in files] f using 1:3 with linespoints lw 2 title f[9:strlen(f)-4]
unset logscale x
set format x "%g"
set xlabel "sources in one daemon"
set ylabel "events/s (all sources)"
set xtics 1
sfiles = system("ls sources-*.dat 2>/dev/null")
if (strlen(sfiles) > 0) plot for [f in sfiles] f using 1:2 with linespoints lw 2 title f[9:strlen(f)-4]
unset multiplot
EOF
fi
echo "report.sh: $MD$(ls drain.png latency.png scaling.png 2>/dev/null | sed 's/^/, /' | tr -d '\n')"
