# agent_run_python_extension(<target prefix> <module name> <dir in the bootstrap>
#                            SOURCES <files...> LIBRARIES <targets...>)
#
# One CPython extension module, built once per interpreter ABI found by
# agent_run_find_pythons (PythonInterpreters.cmake), as <prefix>_<tag>. Each
# build carries its SOABI in its file name (_hook.cpython-311-x86_64-linux-gnu.so),
# so one bootstrap directory serves every interpreter and Python picks the
# right file. The targets are listed in the global property
# AGENT_RUN_PYTHON_EXTENSION_TARGETS (the bootstrap's fingerprint depends on them).

# The settings every build of an extension shares (the shipped one and the
# hook module's instrumented one, cmake/HookPgo.cmake): `entry` is one of
# AGENT_RUN_PYTHON_BUILDS.
function(agent_run_extension_settings target entry module_name libraries)
  # entry: tag|executable|include_dir|ext_suffix|version
  string(REPLACE "|" ";" _f "${entry}")
  list(GET _f 2 _inc)
  list(GET _f 3 _suffix)
  list(GET _f 4 _ver)
  target_include_directories(${target} PRIVATE ${_inc} ${CMAKE_SOURCE_DIR}/src)
  target_compile_definitions(${target} PRIVATE AGENT_RUN_BUILD_PYTHON="${_ver}")
  target_link_libraries(${target} PRIVATE ${libraries} agent_run_version)
  target_compile_options(${target} PRIVATE -fvisibility=hidden -fvisibility-inlines-hidden)
  # libstdc++ is linked statically: the interpreter does not load it, and
  # a second dlopen'd copy costs more import time than the code it brings.
  # Debug info is stripped: every bootstrap directory holds a copy of every
  # build (about 12 MB each with it, most of it libstdc++'s).
  target_link_options(${target} PRIVATE -static-libstdc++ -static-libgcc -Wl,--exclude-libs,ALL -Wl,--strip-debug
    -Wl,--gc-sections)
  set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME "${module_name}" SUFFIX "${_suffix}")
endfunction()

function(agent_run_python_extension prefix module_name bootstrap_subdir)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  get_property(_builds GLOBAL PROPERTY AGENT_RUN_PYTHON_BUILDS)
  foreach(_entry IN LISTS _builds)
    string(REPLACE "|" ";" _f "${_entry}")
    list(GET _f 0 _tag)
    set(_target ${prefix}_${_tag})
    add_library(${_target} MODULE ${ARG_SOURCES})
    agent_run_extension_settings(${_target} "${_entry}" ${module_name} "${ARG_LIBRARIES}")
    set_target_properties(${_target} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY "${AGENT_RUN_STAGE_SHARE}/bootstrap/${bootstrap_subdir}")
    install(TARGETS ${_target} LIBRARY DESTINATION "${CMAKE_INSTALL_DATADIR}/agent-run/bootstrap/${bootstrap_subdir}")
    set_property(GLOBAL APPEND PROPERTY AGENT_RUN_PYTHON_EXTENSION_TARGETS ${_target})
  endforeach()
endfunction()
