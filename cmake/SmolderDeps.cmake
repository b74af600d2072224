# SmolderDeps: finds the libraries smolder builds on, naming the Debian package when one is missing.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
	message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config (or run scripts/bootstrap.sh)")
endif()

# smolder_require(VAR pkgconfig-name debian-package)
function(smolder_require var module package)
	pkg_check_modules(${var} IMPORTED_TARGET GLOBAL ${module})
	if(NOT ${var}_FOUND)
		message(FATAL_ERROR "${module} not found: apt-get install ${package} "
			"(or run scripts/bootstrap.sh)")
	endif()
endfunction()

smolder_require(LIBBPF libbpf libbpf-dev)
smolder_require(LIBELF libelf libelf-dev)
smolder_require(LIBDW libdw libdw-dev)
smolder_require(LIBUNWIND_GENERIC libunwind-generic libunwind-dev)
smolder_require(LIBUNWIND_PTRACE libunwind-ptrace libunwind-dev)
smolder_require(JEMALLOC jemalloc libjemalloc-dev)
smolder_require(ZLIB zlib zlib1g-dev)
# Reports read by `check`/`diff` are parsed with jansson; pprof output is protobuf via protobuf-c.
smolder_require(JANSSON jansson libjansson-dev)
smolder_require(PROTOBUF_C libprotobuf-c libprotobuf-c-dev)
if(SMOLDER_TESTS)
	smolder_require(CMOCKA cmocka libcmocka-dev)
	# Only a leak fixture links it: tcmalloc's API is one `smolder leaks` must find.
	smolder_require(TCMALLOC libtcmalloc_minimal libgoogle-perftools-dev)
endif()

find_program(SMOLDER_CLANG NAMES clang clang-14)
find_program(SMOLDER_LLVM_STRIP NAMES llvm-strip llvm-strip-14)
find_program(SMOLDER_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin)
find_program(SMOLDER_PROTOC_C NAMES protoc-c)
if(NOT SMOLDER_PROTOC_C)
	message(FATAL_ERROR "protoc-c not found: apt-get install protobuf-c-compiler "
		"(or run scripts/bootstrap.sh)")
endif()
foreach(tool SMOLDER_CLANG SMOLDER_LLVM_STRIP SMOLDER_BPFTOOL)
	if(NOT ${tool})
		message(FATAL_ERROR "${tool} not found: apt-get install clang llvm bpftool "
			"(or run scripts/bootstrap.sh)")
	endif()
endforeach()
