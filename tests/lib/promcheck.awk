# promcheck.awk — a strict check of the Prometheus text exposition format 0.0.4, for the tests
# (awk -f tests/lib/promcheck.awk FILE; exit 1 with the reasons on stderr). Checks: every sample
# line is `name{label="value",...} value`; names [a-zA-Z_:][a-zA-Z0-9_:]*, label names
# [a-zA-Z_][a-zA-Z0-9_]*; label values quoted with only \\, \" and \n escaped; values numeric
# (or NaN, +Inf, -Inf); every metric family has its # TYPE before its first sample, only one;
# a family's samples are together; histogram buckets are cumulative per label set, end with
# le="+Inf" and that bucket equals _count.
function bad(msg) { printf "promcheck: line %d: %s: %s\n", NR, msg, $0 > "/dev/stderr"; errors++ }
function family(name, base) {
  # a histogram's samples belong to the family without _bucket, _sum, _count
  base = name
  if (name ~ /_(bucket|sum|count)$/) {
    sub(/_(bucket|sum|count)$/, "", base)
    if (type[base] == "histogram" || type[base] == "summary") return base
  }
  return name
}
BEGIN { errors = 0; current = "" }
/^# HELP / { next }
/^# TYPE / {
  if (NF != 4 || $3 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/ ||
      $4 !~ /^(counter|gauge|histogram|summary|untyped)$/) { bad("bad TYPE line"); next }
  if ($3 in type) bad("second TYPE for " $3)
  if ($3 in seen) bad("TYPE after samples of " $3)
  type[$3] = $4
  next
}
/^#/ { next }
/^$/ { bad("empty line"); next }
{
  line = $0
  if (!match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*/)) { bad("bad metric name"); next }
  name = substr(line, 1, RLENGTH); rest = substr(line, RLENGTH + 1)
  labels = ""; le = ""
  if (substr(rest, 1, 1) == "{") {
    rest = substr(rest, 2)
    while (substr(rest, 1, 1) != "}") {
      if (!match(rest, /^[a-zA-Z_][a-zA-Z0-9_]*="/)) { bad("bad label"); next }
      lname = substr(rest, 1, RLENGTH - 2); rest = substr(rest, RLENGTH + 1)
      # the value: up to the first unescaped quote; only \\ \" \n escapes
      if (!match(rest, /^([^"\\\n]|\\[\\"n])*"/)) { bad("bad label value of " lname); next }
      lval = substr(rest, 1, RLENGTH - 1); rest = substr(rest, RLENGTH + 1)
      if (lname == "le") le = lval; else labels = labels lname "=" lval ","
      if (substr(rest, 1, 1) == ",") rest = substr(rest, 2)
      else if (substr(rest, 1, 1) != "}") { bad("expected , or }"); next }
    }
    rest = substr(rest, 2)
  }
  if (rest !~ /^ [^ ]+( -?[0-9]+)?$/) { bad("expected one space, a value, an optional timestamp"); next }
  split(substr(rest, 2), parts, " "); v = parts[1]
  if (v !~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ && v !~ /^(NaN|[-+]Inf)$/) {
    bad("value not numeric"); next
  }
  fam = family(name)
  if (!(fam in type)) bad("no # TYPE before the first sample of " fam)
  if (fam != current) {
    if (fam in done) bad("samples of " fam " are not together")
    if (current != "") done[current] = 1
    current = fam
  }
  seen[fam] = 1
  if (type[fam] == "histogram") {
    key = fam "|" labels
    if (name == fam "_bucket") {
      if (le == "") { bad("bucket without le"); next }
      if (key in closed) bad("bucket after +Inf")
      if (key in last && v + 0 < last[key]) bad("buckets not cumulative")
      last[key] = v + 0
      if (le == "+Inf") { closed[key] = 1; inf[key] = v + 0 }
    } else if (name == fam "_count") {
      if (!(key in closed)) bad("_count before the +Inf bucket")
      else if (inf[key] != v + 0) bad("+Inf bucket " inf[key] " != _count " v)
      counted[key] = 1
    }
  }
}
END {
  for (k in closed) if (!(k in counted)) { printf "promcheck: %s has no _count\n", k > "/dev/stderr"; errors++ }
  exit errors > 0
}
