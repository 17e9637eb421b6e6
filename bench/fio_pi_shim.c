/* Drives fio's own per-I/O PI routines (fio_nvme_generate_guard and
 * fio_nvme_pi_verify from engines/nvme.c of the PIFIO_FIO_SRC tree, built
 * with that tree's config-host.h) on caller buffers, the way fio's
 * io_uring_cmd engine calls them for one I/O: the bench's "fio" rows.
 * Compiled as C against fio's headers; pi_bench.cpp sees only fio_pi_shim.h.
 */
#include <stdlib.h>
#include <string.h>

#include "engines/nvme.h"
#include "fio_pi_shim.h"

/* nvme.c reports a mismatch with log_err; the bench only wants the verdict. */
ssize_t log_err(const char *format, ...)
{
	(void)format;
	return 0;
}

struct fio_pi_io {
	struct nvme_data data;
	struct nvme_pi_data pi;
	struct nvme_cmd_ext_io_opts opts;
	struct fio_file file;
	struct io_u io_u;
};

struct fio_pi_io *fio_pi_io_new(unsigned lba_size, unsigned ms, int ext, int pi_first, int g64,
				unsigned pi_type, unsigned short apptag)
{
	struct fio_pi_io *p = calloc(1, sizeof(*p));
	unsigned shift = 0;

	if (!p)
		return NULL;
	while ((1u << shift) < lba_size)
		shift++;
	p->data.nsid = 1;
	p->data.lba_shift = shift;
	p->data.lba_size = lba_size;
	p->data.lba_ext = ext ? lba_size + ms : 0;
	p->data.ms = ms;
	p->data.pi_size = g64 ? sizeof(struct nvme_64b_guard_pif) : sizeof(struct nvme_16b_guard_pif);
	p->data.pi_type = pi_type;
	p->data.guard_type = g64 ? NVME_NVM_NS_64B_GUARD : NVME_NVM_NS_16B_GUARD;
	p->data.pi_loc = pi_first ? 1 : 0;
	p->opts.io_flags = NVME_IO_PRINFO_PRCHK_GUARD | NVME_IO_PRINFO_PRCHK_APP | NVME_IO_PRINFO_PRCHK_REF;
	p->opts.apptag = apptag;
	p->opts.apptag_mask = 0xffff;
	p->pi.io_flags = p->opts.io_flags;
	p->pi.apptag = apptag;
	p->pi.apptag_mask = 0xffff;
	p->file.engine_data = &p->data;
	p->file.file_name = "pi_bench";
	p->io_u.file = &p->file;
	p->io_u.engine_data = &p->pi;
	return p;
}

void fio_pi_io_free(struct fio_pi_io *p)
{
	free(p);
}

static void set_io(struct fio_pi_io *p, void *buf, void *md, unsigned long long len, unsigned long long slba,
		   enum fio_ddir ddir)
{
	p->io_u.xfer_buf = buf;
	p->io_u.xfer_buflen = len;
	p->io_u.mmap_data = md;
	p->io_u.offset = p->data.lba_ext ? slba * p->data.lba_ext : slba << p->data.lba_shift;
	p->io_u.ddir = ddir;
}

void fio_pi_io_generate(struct fio_pi_io *p, void *buf, void *md, unsigned long long len, unsigned long long slba)
{
	set_io(p, buf, md, len, slba, DDIR_WRITE);
	fio_nvme_generate_guard(&p->io_u, &p->opts);
}

int fio_pi_io_verify(struct fio_pi_io *p, void *buf, void *md, unsigned long long len, unsigned long long slba)
{
	set_io(p, buf, md, len, slba, DDIR_READ);
	/* fio sets the interval in its generate step; a read-only job gets it
	 * from the same code with ddir != WRITE (no tuples written). */
	fio_nvme_generate_guard(&p->io_u, &p->opts);
	return fio_nvme_pi_verify(&p->data, &p->io_u);
}
