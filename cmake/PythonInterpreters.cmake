# Finds the CPython interpreters to build the hook module for.
#
# /usr/bin/python3 comes first and is pinned (FindPython would pick the pyenv
# shim first on PATH). Then every pyenv build under AGENT_RUN_PYENV_ROOT.
# Interpreters outside 3.8-3.13, without headers, or whose ABI is already
# served by an earlier one are skipped with a message.

set(AGENT_RUN_PYTHONS "/usr/bin/python3" CACHE STRING "Interpreters to build the hook module for (before pyenv ones)")
set(AGENT_RUN_PYENV_ROOT "$ENV{HOME}/.pyenv/versions" CACHE PATH "Directory of pyenv CPython builds")

function(agent_run_find_pythons out_var)
  set(_candidates ${AGENT_RUN_PYTHONS})
  file(GLOB _pyenv LIST_DIRECTORIES true "${AGENT_RUN_PYENV_ROOT}/3.*")
  list(SORT _pyenv COMPARE NATURAL)
  foreach(_d IN LISTS _pyenv)
    list(APPEND _candidates "${_d}/bin/python3")
  endforeach()

  set(_seen_suffixes "")
  set(_result "")
  set(_served "")
  foreach(_exe IN LISTS _candidates)
    if(NOT EXISTS "${_exe}")
      message(STATUS "agent-run: ${_exe} not present, no hook module for it")
      continue()
    endif()
    execute_process(
      COMMAND "${_exe}" -S -c "import sys,sysconfig;print('%d.%d.%d'%sys.version_info[:3]);print(sysconfig.get_config_var('EXT_SUFFIX'));print(sysconfig.get_paths()['include']);print(sys.implementation.name)"
      OUTPUT_VARIABLE _out RESULT_VARIABLE _rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT _rc EQUAL 0)
      message(STATUS "agent-run: ${_exe} does not run, skipped")
      continue()
    endif()
    string(REPLACE "\n" ";" _lines "${_out}")
    list(GET _lines 0 _ver)
    list(GET _lines 1 _suffix)
    list(GET _lines 2 _inc)
    list(GET _lines 3 _impl)
    if(NOT _impl STREQUAL "cpython" OR _ver VERSION_LESS 3.8 OR _ver VERSION_GREATER_EQUAL 3.14)
      message(STATUS "agent-run: ${_exe} is ${_impl} ${_ver}, outside CPython 3.8-3.13, skipped")
      continue()
    endif()
    if(NOT EXISTS "${_inc}/Python.h")
      message(STATUS "agent-run: ${_exe} has no headers in ${_inc}, skipped")
      continue()
    endif()
    if(_suffix IN_LIST _seen_suffixes)
      message(STATUS "agent-run: ${_exe} (${_ver}) shares ABI ${_suffix} with an earlier build")
      list(APPEND _served "${_exe} ${_ver} ${_suffix}")
      continue()
    endif()
    list(APPEND _seen_suffixes "${_suffix}")
    string(REGEX REPLACE "^([0-9]+)\\.([0-9]+).*" "\\1\\2" _tag "${_ver}")
    message(STATUS "agent-run: hook module for CPython ${_ver} (${_exe})")
    list(APPEND _result "${_tag}|${_exe}|${_inc}|${_suffix}|${_ver}")
    list(APPEND _served "${_exe} ${_ver} ${_suffix}")
  endforeach()
  set(${out_var} "${_result}" PARENT_SCOPE)
  # Every interpreter that can load one of the builds: the tests run on each.
  list(JOIN _served "\n" _text)
  file(WRITE "${CMAKE_BINARY_DIR}/hook_pythons.txt" "${_text}\n")
endfunction()
