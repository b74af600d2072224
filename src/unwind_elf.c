/* unwind_elf.c: parses the parts of an ELF object the unwinder needs (PT_LOAD layout, the
 * .eh_frame_hdr search table, the .debug_frame section) from private copies of them; other bytes
 * are read from the file with pread, so a file truncated under us reads short instead of
 * killing smolder with SIGBUS. No libelf: the unwinder reads a handful of fixed-layout headers, and
 * every read here is bounds-checked because the file belongs to the target, not to us. */
#include "unwind_elf.h"
#include "unwind_cfi.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static bool in_file(const struct unwind_elf *elf, uint64_t off, uint64_t len)
{
	return off <= elf->size && len <= elf->size - off;
}

/* Finds the uncompressed PROGBITS section called name: its file offset, size and link-time address
 * (0 for sections not loaded); 0 or -ENOENT. */
static int find_section_vaddr(const struct unwind_elf *elf, const char *name, uint64_t *off,
			      uint64_t *size, uint64_t *vaddr)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf->data;
	const Elf64_Shdr *sh, *strtab;
	uint64_t n, strndx;
	size_t name_len = strlen(name) + 1;

	if (!eh->e_shoff || eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    eh->e_shoff % _Alignof(Elf64_Shdr) || !in_file(elf, eh->e_shoff, sizeof(Elf64_Shdr)))
		return -ENOENT;
	sh = (const Elf64_Shdr *)(elf->data + eh->e_shoff);
	/* More than 0xff00 sections: the real count and string table index live in section 0. */
	n = eh->e_shnum ? eh->e_shnum : sh[0].sh_size;
	strndx = eh->e_shstrndx == SHN_XINDEX ? sh[0].sh_link : eh->e_shstrndx;
	/* n may come from a 64-bit field: compare by division, a product could wrap. */
	if (n > (elf->size - eh->e_shoff) / sizeof(Elf64_Shdr) || strndx >= n)
		return -ENOENT;
	strtab = &sh[strndx];
	if (!in_file(elf, strtab->sh_offset, strtab->sh_size))
		return -ENOENT;
	for (uint64_t i = 1; i < n; i++) {
		/* lld and some assemblers type .eh_frame SHT_X86_64_UNWIND. */
		if ((sh[i].sh_type != SHT_PROGBITS && sh[i].sh_type != SHT_X86_64_UNWIND) ||
		    (sh[i].sh_flags & SHF_COMPRESSED) || sh[i].sh_name >= strtab->sh_size ||
		    strtab->sh_size - sh[i].sh_name < name_len ||
		    memcmp(elf->data + strtab->sh_offset + sh[i].sh_name, name, name_len) != 0)
			continue;
		if (!in_file(elf, sh[i].sh_offset, sh[i].sh_size))
			return -ENOENT;
		*off = sh[i].sh_offset;
		*size = sh[i].sh_size;
		*vaddr = sh[i].sh_addr;
		return 0;
	}
	return -ENOENT;
}

static int find_section(const struct unwind_elf *elf, const char *name, uint64_t *off,
			uint64_t *size)
{
	uint64_t vaddr;

	return find_section_vaddr(elf, name, off, size, &vaddr);
}

/* DWARF pointer encodings used by .eh_frame_hdr (LSB 4.1, "DWARF Extensions"). */
#define DW_EH_PE_absptr	 0x00
#define DW_EH_PE_udata4	 0x03
#define DW_EH_PE_udata8	 0x04
#define DW_EH_PE_sdata4	 0x0b
#define DW_EH_PE_sdata8	 0x0c
#define DW_EH_PE_pcrel	 0x10
#define DW_EH_PE_datarel 0x30
#define DW_EH_PE_omit	 0xff

size_t unwind_elf_read(const struct unwind_elf *elf, uint64_t off, void *buf, size_t len)
{
	size_t n, got = 0;

	if (off >= elf->size) {
		memset(buf, 0, len);
		return 0;
	}
	n = elf->size - off < len ? elf->size - off : len;
	for (size_t i = 0; i < elf->n_copied; i++) {
		if (off >= elf->copied[i].off && n <= elf->copied[i].len &&
		    off - elf->copied[i].off <= elf->copied[i].len - n) {
			memcpy(buf, elf->data + off, n);
			got = n;
			goto out;
		}
	}
	if (elf->fd < 0) {
		memcpy(buf, elf->data + off, n);
		got = n;
		goto out;
	}
	/* Code and read-only data: read, not mapped (see struct unwind_elf). */
	while (got < n) {
		ssize_t r = pread(elf->fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
out:
	if (got < len)
		memset((uint8_t *)buf + got, 0, len - got);
	return got;
}

int unwind_elf_load_delta(const struct unwind_elf *elf, uint64_t off, int64_t *delta)
{
	/* The loader maps each segment from its page-aligned offset; prefer an exact match, since
	 * the last page of one segment may also hold the first bytes of the next. */
	for (size_t i = 0; i < elf->n_loads; i++) {
		if ((elf->loads[i].offset & ~(uint64_t)0xfff) == off) {
			*delta = (int64_t)(elf->loads[i].vaddr - elf->loads[i].offset);
			return 0;
		}
	}
	for (size_t i = 0; i < elf->n_loads; i++) {
		const struct unwind_elf_load *load = &elf->loads[i];
		/* Mappings start page-aligned, at or below the segment's own offset. */
		uint64_t lo = load->offset & ~(uint64_t)0xfff;

		if (off >= lo && off < load->offset + (load->filesz ? load->filesz : 1)) {
			*delta = (int64_t)(load->vaddr - load->offset);
			return 0;
		}
	}
	return -ENOENT;
}

int unwind_elf_vaddr_offset(const struct unwind_elf *elf, uint64_t vaddr, uint64_t *off)
{
	for (size_t i = 0; i < elf->n_loads; i++) {
		const struct unwind_elf_load *load = &elf->loads[i];

		if (vaddr >= load->vaddr && vaddr - load->vaddr < load->filesz) {
			*off = vaddr - load->vaddr + load->offset;
			return 0;
		}
	}
	return -ENOENT;
}

/* Decodes one encoded pointer at file offset *off (whose link-time vaddr is vaddr) and advances
 * *off. Only the encodings .eh_frame_hdr uses. */
static int read_encoded(const struct unwind_elf *elf, uint8_t enc, uint64_t *off, uint64_t vaddr,
			uint64_t data_base, uint64_t *out)
{
	uint64_t val, base = 0;
	size_t size;

	switch (enc & 0x0f) {
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		size = 4;
		break;
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		size = 8;
		break;
	default:
		return -ENOTSUP;
	}
	if (!in_file(elf, *off, size))
		return -EINVAL;
	if (size == 4) {
		uint32_t u;

		memcpy(&u, elf->data + *off, 4);
		val = (enc & 0x0f) == DW_EH_PE_sdata4 ? (uint64_t)(int64_t)(int32_t)u : u;
	} else {
		memcpy(&val, elf->data + *off, 8);
	}
	switch (enc & 0x70) {
	case 0:
		break;
	case DW_EH_PE_pcrel:
		base = vaddr;
		break;
	case DW_EH_PE_datarel:
		base = data_base;
		break;
	default:
		return -ENOTSUP;
	}
	*off += size;
	*out = val + base;
	return 0;
}

/* .eh_frame_hdr: version, eh_frame_ptr_enc, fde_count_enc, table_enc, eh_frame_ptr, fde_count,
 * then fde_count sorted {initial_location, fde_address} pairs. libunwind's table search wants
 * them as datarel sdata4, which is what every linker emits. */
static void parse_eh_frame_hdr(struct unwind_elf *elf, uint64_t off, uint64_t vaddr, uint64_t size)
{
	uint64_t pos = off + 4, eh_frame, count;
	const uint8_t *hdr;

	if (size < 4 || !in_file(elf, off, size))
		return;
	hdr = elf->data + off;
	if (hdr[0] != 1 || hdr[2] == DW_EH_PE_omit ||
	    hdr[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4))
		return;
	if (read_encoded(elf, hdr[1], &pos, vaddr + (pos - off), vaddr, &eh_frame) < 0)
		return;
	if (read_encoded(elf, hdr[2], &pos, vaddr + (pos - off), vaddr, &count) < 0)
		return;
	if (count == 0 || count > (elf->size - pos) / 8)
		return;
	elf->has_table = true;
	elf->hdr_vaddr = vaddr;
	elf->table_vaddr = vaddr + (pos - off);
	elf->fde_count = count;
}

static int parse(struct unwind_elf *elf)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf->data;
	const Elf64_Phdr *ph;

	if (elf->size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    !in_file(elf, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)))
		return -ENOEXEC;
	if (eh->e_phoff % _Alignof(Elf64_Phdr))
		return -ENOEXEC;
	ph = (const Elf64_Phdr *)(elf->data + eh->e_phoff);
	elf->loads = calloc(eh->e_phnum ? eh->e_phnum : 1, sizeof(*elf->loads));
	if (!elf->loads)
		return -ENOMEM;
	elf->entry = eh->e_entry;
	elf->text_lo = UINT64_MAX;
	for (size_t i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD) {
			struct unwind_elf_load *load = &elf->loads[elf->n_loads++];

			load->vaddr = ph[i].p_vaddr;
			load->offset = ph[i].p_offset;
			load->filesz = ph[i].p_filesz;
			load->memsz = ph[i].p_memsz;
			load->flags = ph[i].p_flags;
			if ((ph[i].p_flags & PF_X) && ph[i].p_memsz) {
				if (ph[i].p_vaddr < elf->text_lo)
					elf->text_lo = ph[i].p_vaddr;
				uint64_t end = ph[i].p_vaddr + ph[i].p_memsz;

				if (end < ph[i].p_vaddr)
					end = UINT64_MAX; /* a corrupt segment: do not wrap */
				if (end > elf->text_hi)
					elf->text_hi = end;
			}
		}
	}
	if (elf->text_lo == UINT64_MAX)
		elf->text_lo = 0;
	for (size_t i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_GNU_EH_FRAME)
			parse_eh_frame_hdr(elf, ph[i].p_offset, ph[i].p_vaddr, ph[i].p_filesz);
	if (!elf->has_table) {
		/* gcc -static links without --eh-frame-hdr: index .eh_frame itself. The section is
		 * found by name, so an object stripped of its section headers keeps no CFI. */
		uint64_t off, size, vaddr;
		int err;

		if (find_section_vaddr(elf, ".eh_frame", &off, &size, &vaddr) == 0) {
			err = unwind_cfi_index_eh_frame(elf, off, vaddr, size);
			if (err)
				return err;
		}
	}
	/* Compressed .debug_frame (SHF_COMPRESSED, as in some separate debug files) is not read;
	 * those objects keep their .eh_frame, which is what is needed at run time anyway. */
	if (find_section(elf, ".debug_frame", &elf->debug_frame_off, &elf->debug_frame_size) == 0)
		return unwind_cfi_index_debug_frame(elf);
	return 0;
}

/* Takes ownership of data (mmapped, or malloc'ed when !mmapped) and of fd (-1: none, data is the
 * whole image), with the regions of data copied from fd; parses the data. On failure data and fd
 * are released and errno set. */
static struct unwind_elf *elf_wrap(void *data, size_t size, bool mmapped, int fd,
				   const struct unwind_elf *regions)
{
	struct unwind_elf *elf = calloc(1, sizeof(*elf));
	int err;

	if (!elf) {
		if (mmapped)
			munmap(data, size);
		else
			free(data);
		if (fd >= 0)
			close(fd);
		errno = ENOMEM;
		return NULL;
	}
	elf->data = data;
	elf->size = size;
	elf->mmapped = mmapped;
	elf->fd = fd;
	if (regions) {
		memcpy(elf->copied, regions->copied, sizeof(elf->copied));
		elf->n_copied = regions->n_copied;
	}
	err = -parse(elf);
	if (err) {
		unwind_elf_free(elf);
		errno = err;
		return NULL;
	}
	return elf;
}

/* Copies file bytes [off, off + len) into the same offsets of data (clipped to the file; a file
 * that shrank meanwhile leaves zeros, which parse rejects) and remembers the region. */
static void copy_region(int fd, uint8_t *data, size_t size, uint64_t off, uint64_t len,
			struct unwind_elf *regions)
{
	uint64_t got = 0;

	if (off >= size || len == 0)
		return;
	if (len > size - off)
		len = size - off;
	while (got < len) {
		ssize_t r = pread(fd, data + off + got, len - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (uint64_t)r;
	}
	if (got && regions->n_copied < sizeof(regions->copied) / sizeof(regions->copied[0])) {
		regions->copied[regions->n_copied].off = off;
		regions->copied[regions->n_copied].len = got;
		regions->n_copied++;
	}
}

/* Copies what parse and the CFI reader look at: the ELF and program headers, the
 * PT_GNU_EH_FRAME segment, the section headers and their names, and the .eh_frame, .eh_frame_hdr
 * and .debug_frame sections. Without section headers, .eh_frame is taken to run from the end of
 * .eh_frame_hdr to the end of its PT_LOAD (where linkers put it). Layout checks are parse's. */
static void copy_metadata(int fd, uint8_t *data, size_t size, struct unwind_elf *regions)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)data;
	const Elf64_Phdr *ph;
	const Elf64_Shdr *sh;
	uint64_t n, strndx, hdr_end = 0;
	bool eh_frame = false;

	copy_region(fd, data, size, 0, sizeof(*eh), regions);
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff >= size ||
	    eh->e_phnum > (size - eh->e_phoff) / sizeof(Elf64_Phdr) ||
	    eh->e_phoff % _Alignof(Elf64_Phdr))
		return;
	copy_region(fd, data, size, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr),
		    regions);
	ph = (const Elf64_Phdr *)(data + eh->e_phoff);
	for (size_t i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type != PT_GNU_EH_FRAME)
			continue;
		copy_region(fd, data, size, ph[i].p_offset, ph[i].p_filesz, regions);
		hdr_end = ph[i].p_offset + ph[i].p_filesz;
	}
	if (eh->e_shoff && eh->e_shentsize == sizeof(Elf64_Shdr) && eh->e_shoff < size &&
	    !(eh->e_shoff % _Alignof(Elf64_Shdr)) && size - eh->e_shoff >= sizeof(Elf64_Shdr)) {
		sh = (const Elf64_Shdr *)(data + eh->e_shoff);
		copy_region(fd, data, size, eh->e_shoff, sizeof(Elf64_Shdr), regions);
		n = eh->e_shnum ? eh->e_shnum : sh[0].sh_size;
		strndx = eh->e_shstrndx == SHN_XINDEX ? sh[0].sh_link : eh->e_shstrndx;
		if (n <= (size - eh->e_shoff) / sizeof(Elf64_Shdr) && strndx < n) {
			copy_region(fd, data, size, eh->e_shoff, n * sizeof(Elf64_Shdr), regions);
			copy_region(fd, data, size, sh[strndx].sh_offset, sh[strndx].sh_size,
				    regions);
			for (uint64_t i = 1; i < n; i++) {
				const Elf64_Shdr *s = &sh[i];
				const char *name = (const char *)data + sh[strndx].sh_offset;

				if (sh[strndx].sh_offset >= size ||
				    s->sh_name >= sh[strndx].sh_size ||
				    sh[strndx].sh_size > size - sh[strndx].sh_offset)
					continue;
				name += s->sh_name;
				if (strnlen(name, sh[strndx].sh_size - s->sh_name) ==
				    sh[strndx].sh_size - s->sh_name)
					continue;
				if (!strcmp(name, ".eh_frame") || !strcmp(name, ".eh_frame_hdr") ||
				    !strcmp(name, ".debug_frame")) {
					copy_region(fd, data, size, s->sh_offset, s->sh_size,
						    regions);
					eh_frame |= !strcmp(name, ".eh_frame");
				}
			}
		}
	}
	if (!eh_frame && hdr_end) {
		for (size_t i = 0; i < eh->e_phnum; i++) {
			if (ph[i].p_type == PT_LOAD && hdr_end > ph[i].p_offset &&
			    hdr_end <= ph[i].p_offset + ph[i].p_filesz)
				copy_region(fd, data, size, hdr_end,
					    ph[i].p_offset + ph[i].p_filesz - hdr_end, regions);
		}
	}
}

struct unwind_elf *unwind_elf_open(const char *path)
{
	struct unwind_elf regions = {0};
	struct stat st;
	void *data;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		err = errno;
		goto err_close;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		err = ENOEXEC;
		goto err_close;
	}
	/* Anonymous and NORESERVE: only the copied pages take memory; the rest reads as zeros. */
	data = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (data == MAP_FAILED) {
		err = errno;
		goto err_close;
	}
	copy_metadata(fd, data, st.st_size, &regions);
	mprotect(data, st.st_size, PROT_READ);
	return elf_wrap(data, st.st_size, true, fd, &regions);

err_close:
	close(fd);
	errno = err;
	return NULL;
}

struct unwind_elf *unwind_elf_from_image(uint8_t *image, size_t size)
{
	return elf_wrap(image, size, false, -1, NULL);
}

void unwind_elf_free(struct unwind_elf *elf)
{
	if (!elf)
		return;
	if (elf->mmapped)
		munmap((void *)elf->data, elf->size);
	else
		free((void *)elf->data);
	if (elf->fd >= 0)
		close(elf->fd);
	free(elf->loads);
	free(elf->debug_fdes);
	free(elf->synthetic_table);
	free(elf);
}
