# Reads a callgrind output file (default options: Ir only, line positions) and prints
#   <self Ir in objects matching OBJ> <Ir of the whole run> <times FN was entered>
# Self cost: cost lines of a function body; the line after `calls=` is a call's inclusive cost and
# is skipped. Objects are named by `ob=(id) name` once and by `ob=(id)` afterwards; the driver
# image, mapped anonymously by the test loader, is callgrind's object `???`.
# FN (exact demangled name) is counted from `calls=` lines whose target (`cfn=`) it is, plus one
# if it has a body but no recorded caller (collection switched on inside it).
/^ob=/ {
  spec = substr($0, 4)
  if (match(spec, /^\([0-9]+\)/)) {
    id = substr(spec, RSTART, RLENGTH); rest = substr(spec, RLENGTH + 2)
    if (rest != "") name[id] = rest
    current = id
  } else { current = spec; name[spec] = spec }
  next
}
/^cob=/ {
  spec = substr($0, 5)
  if (match(spec, /^\([0-9]+\)/)) {
    id = substr(spec, RSTART, RLENGTH); rest = substr(spec, RLENGTH + 2)
    if (rest != "") name[id] = rest
  }
  next
}
/^fn=/ {
  spec = substr($0, 4)
  if (match(spec, /^\([0-9]+\)/)) {
    id = substr(spec, RSTART, RLENGTH); rest = substr(spec, RLENGTH + 2)
    if (rest != "") fname[id] = rest
    cur_fn = id
  } else { cur_fn = spec; fname[spec] = spec }
  next
}
/^cfn=/ {
  spec = substr($0, 5)
  if (match(spec, /^\([0-9]+\)/)) {
    id = substr(spec, RSTART, RLENGTH); rest = substr(spec, RLENGTH + 2)
    if (rest != "") fname[id] = rest
    call_fn = id
  } else { call_fn = spec; fname[spec] = spec }
  next
}
/^calls=/ { split(substr($0, 7), c, " "); called[call_fn] += c[1]; skip = 1; next }
/^(summary|totals):/ { total = $2; next }
/^[+*-]?[0-9]/ {
  if (skip) { skip = 0; next }
  if (name[current] == OBJ) self += $2
  body[cur_fn] += $2
  next
}
END {
  entered = 0
  for (f in fname) if (fname[f] == FN) { entered += called[f]; if (called[f] == 0 && body[f] > 0) entered += 1 }
  printf "%d %d %d\n", self, total, entered
}
