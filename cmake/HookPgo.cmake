# agent_run_hook_pgo(<target prefix> <module name> <dir in the bootstrap>
#                    TRAINING <script> BOOT <boot module's target prefix>
#                    SOURCES <files...> LIBRARIES <targets...>)
#
# A profile-guided build of an extension made by agent_run_python_extension
# (GCC only; AGENT_RUN_PGO=OFF turns it off). Per interpreter:
# 1. <prefix>_<tag>_pgo_generate: the same module built with
#    -fprofile-generate, into build/pgo/<tag>/ (never staged or installed);
# 2. the training: <script> run by that interpreter with the instrumented
#    module, which writes the profile (build/pgo/<tag>/profile);
# 3. <prefix>_<tag>, the module that ships, compiled with -fprofile-use:
#    the code a request runs laid out contiguously, errors and set-up
#    apart (in a gunicorn worker under callgrind, per request, the hook
#    module's own code: 6 % fewer instructions and 7 % fewer first-level
#    instruction-cache misses; docs/benchmarks.md).
# The two builds name their profile files alike (-fprofile-prefix-path cuts
# each one's object directory), so the profile of one serves the other. A
# training that fails leaves no profile: the module is then built as without
# one (-Wno-missing-profile; -fprofile-partial-training keeps what the
# training did not run optimized for speed).
option(AGENT_RUN_PGO "Profile-guided build of the hook module (GCC)" ON)

function(agent_run_hook_pgo prefix module_name bootstrap_subdir)
  cmake_parse_arguments(ARG "" "TRAINING;BOOT" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT AGENT_RUN_PGO OR NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU" OR CMAKE_BUILD_TYPE STREQUAL "Debug")
    return()
  endif()
  get_property(_builds GLOBAL PROPERTY AGENT_RUN_PYTHON_BUILDS)
  foreach(_entry IN LISTS _builds)
    string(REPLACE "|" ";" _f "${_entry}")
    list(GET _f 0 _tag)
    list(GET _f 1 _exe)
    set(_target ${prefix}_${_tag})
    set(_gen ${_target}_pgo_generate)
    set(_dir "${CMAKE_BINARY_DIR}/pgo/${_tag}")
    set(_profile "${_dir}/profile")
    # The instrumented module: the shipped one's sources and settings.
    add_library(${_gen} MODULE EXCLUDE_FROM_ALL ${ARG_SOURCES})
    agent_run_extension_settings(${_gen} "${_entry}" ${module_name} "${ARG_LIBRARIES}")
    set_target_properties(${_gen} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${_dir}/bootstrap/${bootstrap_subdir}")
    # No value profiling: its counters are thread-locals, and the sink's
    # flusher is a thread glibc does not know (src/wire/raw_thread.cpp).
    target_compile_options(${_gen} PRIVATE "-fprofile-generate=${_profile}"
      "-fprofile-prefix-path=${CMAKE_CURRENT_BINARY_DIR}/CMakeFiles/${_gen}.dir"
      -fno-profile-values -fprofile-update=single)
    target_link_options(${_gen} PRIVATE -fprofile-generate)
    # An empty header, touched by each training and included by every
    # source of the shipped module: a new profile recompiles them.
    set(_stamp "${_dir}/trained.h")
    # The training imports the staged boot module (the plugin machinery
    # does) and the package's Python files from the source tree (-B: no
    # bytecode written there).
    add_custom_command(OUTPUT "${_stamp}"
      COMMAND ${CMAKE_COMMAND} -E rm -rf "${_profile}"
      COMMAND "${_exe}" -I -B "${ARG_TRAINING}" "${_dir}/bootstrap" "${CMAKE_SOURCE_DIR}/bootstrap"
              "${AGENT_RUN_STAGE_SHARE}/bootstrap"
      COMMAND ${CMAKE_COMMAND} -E touch "${_stamp}"
      DEPENDS ${_gen} ${ARG_BOOT}_${_tag} "${ARG_TRAINING}"
      COMMENT "agent-run: training run of the profile-guided ${_target}")
    add_custom_target(${_target}_pgo_training DEPENDS "${_stamp}")
    add_dependencies(${_target} ${_target}_pgo_training)
    # -w: GCC 12 notes every call the training did not reach ("Missing
    # counts for called function"), whatever -W says; the code's own
    # warnings are the instrumented build's, of the same sources.
    target_compile_options(${_target} PRIVATE "-fprofile-use=${_profile}"
      "-fprofile-prefix-path=${CMAKE_CURRENT_BINARY_DIR}/CMakeFiles/${_target}.dir"
      -fprofile-partial-training -Wno-missing-profile -w -include "${_stamp}")
  endforeach()
endfunction()
