# Fails the build when the freestanding objects (src/launcher/freestanding,
# which run before libc is set up or beside the launcher) need any symbol
# from outside themselves: a libc call the compiler added (memcpy, memset,
# __stack_chk_fail, ...) would crash the quick launch. The one allowed:
# libc's _start, where the entry point goes when it cannot replay a launch
# (and the linker's _GLOBAL_OFFSET_TABLE_, which position-independent code names).
#   cmake -DOBJECTS="a.o|b.o" -DLINKER=ld -DNM=nm -DWORK=out.o -P check_freestanding.cmake
cmake_policy(SET CMP0007 NEW)
string(REPLACE "|" ";" objects "${OBJECTS}")
execute_process(COMMAND ${LINKER} -r -o ${WORK} ${objects} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "check_freestanding: cannot link the freestanding objects together: ${err}")
endif()
execute_process(COMMAND ${NM} -u ${WORK} OUTPUT_VARIABLE undefined RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "check_freestanding: ${NM} -u ${WORK} failed")
endif()
string(REGEX REPLACE "[ \t]*U[ \t]+" "" undefined "${undefined}")
string(REPLACE "\n" ";" undefined "${undefined}")
list(REMOVE_ITEM undefined "" "_start" "_GLOBAL_OFFSET_TABLE_")
if(undefined)
  message(FATAL_ERROR "check_freestanding: src/launcher/freestanding calls outside itself: ${undefined}. "
    "This code runs before libc is set up: write the loop out, or keep the call out of it.")
endif()
