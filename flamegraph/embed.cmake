# embed.cmake: turns a text file into a C header holding it as a byte array (NAME, NAME_len).
# Used for flamegraph.js, which is embedded in every SVG inside a CDATA section, so the script
# must never contain the CDATA terminator.
file(READ ${INPUT} text)
string(FIND "${text}" "]]>" pos)
if(NOT pos EQUAL -1)
	message(FATAL_ERROR "${INPUT} contains ']]>', which would end the SVG's CDATA section")
endif()
file(READ ${INPUT} content HEX)
string(LENGTH "${content}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," content "${content}")
file(WRITE ${OUTPUT} "/* Generated from flamegraph.js by embed.cmake; do not edit. */\n"
	"static const unsigned char ${NAME}[] = {${content}};\n"
	"static const unsigned int ${NAME}_len = ${len};\n")
