# Writes the fingerprint of the staged bootstrap files (cmake -P):
#   cmake -DDIR=<share/agent-run/bootstrap> -DOUT=<file> -P BootstrapId.cmake
# The launcher names each generated bootstrap directory after it, so a
# rebuilt agent never reuses a stale one, and reads this one file instead of
# walking the installed files at every launch.
file(GLOB_RECURSE _files LIST_DIRECTORIES false RELATIVE "${DIR}" "${DIR}/*")
list(SORT _files)
set(_all "")
foreach(_f IN LISTS _files)
  file(SHA256 "${DIR}/${_f}" _h)
  string(APPEND _all "${_f} ${_h}\n")
endforeach()
string(SHA256 _id "${_all}")
string(SUBSTRING "${_id}" 0 16 _id)
file(WRITE "${OUT}.tmp" "${_id}\n")
file(RENAME "${OUT}.tmp" "${OUT}")
