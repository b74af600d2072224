# SmolderBpf: compiles bpf/*.bpf.c with clang -target bpf (CO-RE), strips DWARF (keeping BTF) and
# generates a libbpf skeleton per program. clang's depfile makes edits to included headers
# (include/smolder/events.h, bpf/*.bpf.h) rebuild exactly the objects that include them (-MT names
# the real output: the object is compiled to a temporary name first).
set(SMOLDER_BPF_OUT ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${SMOLDER_BPF_OUT})

set(SMOLDER_VMLINUX ${CMAKE_SOURCE_DIR}/bpf/vmlinux.h)
if(SMOLDER_REGEN_VMLINUX)
	add_custom_command(OUTPUT ${SMOLDER_VMLINUX}
		COMMAND ${SMOLDER_BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c > ${SMOLDER_VMLINUX}
		COMMENT "Regenerating bpf/vmlinux.h from /sys/kernel/btf/vmlinux" VERBATIM)
	add_custom_target(smolder_vmlinux ALL DEPENDS ${SMOLDER_VMLINUX})
endif()

function(smolder_bpf_skeletons target)
	set(skeletons)
	foreach(src ${ARGN})
		get_filename_component(name ${src} NAME_WE)
		set(obj ${SMOLDER_BPF_OUT}/${name}.bpf.o)
		set(dep ${SMOLDER_BPF_OUT}/${name}.bpf.d)
		set(skel ${SMOLDER_BPF_OUT}/${name}.skel.h)
		add_custom_command(OUTPUT ${obj}
			COMMAND ${SMOLDER_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_x86
				-I${CMAKE_SOURCE_DIR}/bpf -I${CMAKE_SOURCE_DIR}/include
				-MD -MF ${dep} -MT ${obj} -c ${src} -o ${obj}.tmp
			COMMAND ${SMOLDER_LLVM_STRIP} -g ${obj}.tmp -o ${obj}
			COMMAND ${CMAKE_COMMAND} -E remove ${obj}.tmp
			DEPENDS ${src} ${SMOLDER_VMLINUX}
			DEPFILE ${dep}
			COMMENT "BPF ${name}.bpf.c" VERBATIM)
		add_custom_command(OUTPUT ${skel}
			# Paths go to sh as positional arguments, never pasted into the script: a
			# checkout path with a space or shell metacharacter must still build.
			COMMAND sh -c [["$0" gen skeleton "$1" name "$2" > "$3.tmp" && mv "$3.tmp" "$3"]]
				${SMOLDER_BPFTOOL} ${obj} ${name}_bpf ${skel}
			DEPENDS ${obj}
			COMMENT "Skeleton ${name}.skel.h" VERBATIM)
		list(APPEND skeletons ${skel})
	endforeach()
	add_custom_target(${target} DEPENDS ${skeletons})
endfunction()
