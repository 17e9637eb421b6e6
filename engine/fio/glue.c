/*
 * pifio fio glue: the options table and ioengine_ops. The only file that
 * includes fio headers; compiled once per fio tree (with that tree's
 * config-host.h) and it calls the C++ engine through glue_api.h.
 *
 * fio loads it with ioengine=external:/path/libpifio.so.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <unistd.h>

#include "fio.h"
#include "optgroup.h"
#include "verify.h"

#include "glue_api.h"

/* The struct fio fills: the C API's pifio_opts, past the thread_data pointer
 * fio keeps at offset 0 of every engine option struct. */
struct pifio_fio_options {
	void *pad;
	struct pifio_opts o;
};
_Static_assert(offsetof(struct pifio_fio_options, o) > 0,
	       "no engine option may sit at offset 0 (fio's thread_data pointer)");

struct pifio_td {
	void *eng;
	struct io_u **io_u_index;	/* by io_u->index, for fixedbufs */
	struct io_u **pending;		/* queued since the last commit */
	unsigned int npending;
	unsigned int depth;
};

/* fio's option table, one entry per row of options.def. The *_SET kinds take
 * the value through a callback that also records that it was given. */
#define PIFIO_CB_SET(n)							\
	static int n##_cb(void *data, unsigned long long *val)		\
	{								\
		struct pifio_fio_options *fo = data;			\
									\
		fo->o.n = *val;						\
		fo->o.n##_set = 1;					\
		return 0;						\
	}
#define PIFIO_CB_UINT(n)
#define PIFIO_CB_BOOL(n)
#define PIFIO_CB_FLAG(n)
#define PIFIO_CB_STR(n)
#define PIFIO_CB_PARSED(n)
#define PIFIO_CB_UINT_SET(n) PIFIO_CB_SET(n)
#define PIFIO_CB_ULL_SET(n) PIFIO_CB_SET(n)
#define PIFIO_OPT(name, kind, def, lname, help) PIFIO_CB_##kind(name)
#include "options.def"
#undef PIFIO_OPT

#define PIFIO_OFF(n) .off1 = offsetof(struct pifio_fio_options, o.n)
#define PIFIO_FIO_UINT(n, d) .type = FIO_OPT_INT, PIFIO_OFF(n), .def = #d
#define PIFIO_FIO_BOOL(n, d) .type = FIO_OPT_BOOL, PIFIO_OFF(n), .def = #d
#define PIFIO_FIO_FLAG(n, d) .type = FIO_OPT_STR_SET, PIFIO_OFF(n)
#define PIFIO_FIO_STR(n, d) .type = FIO_OPT_STR_STORE, PIFIO_OFF(n)
#define PIFIO_FIO_PARSED(n, d) PIFIO_FIO_STR(n, d)
#define PIFIO_FIO_UINT_SET(n, d) .type = FIO_OPT_INT, .cb = n##_cb
#define PIFIO_FIO_ULL_SET(n, d) .type = FIO_OPT_ULL, .cb = n##_cb

static struct fio_option options[] = {
#define PIFIO_OPT(opt, kind, def, l, h)				\
	{								\
		.name = #opt, .lname = l, .help = h,			\
		.category = FIO_OPT_C_ENGINE,				\
		.group = FIO_OPT_G_IOURING,				\
		PIFIO_FIO_##kind(opt, def),				\
	},
#include "options.def"
#undef PIFIO_OPT
	{ .name = NULL },
};

static void glue_log(const char *line)
{
	log_err("%s\n", line);
}

static void glue_info(const char *line)
{
	log_info("%s\n", line);
}

static const struct pifio_opts *opts_of(struct thread_data *td)
{
	return &((struct pifio_fio_options *)td->eo)->o;
}

static int fail(struct thread_data *td, int err, const char *msg, const char *func)
{
	log_err("pifio: %s\n", msg);
	td_verror(td, err ? err : EINVAL, func);
	return 1;
}

static int ensure_probed(struct thread_data *td, struct fio_file *f)
{
	char err[1024];
	unsigned long long size = 0;
	int errnum = EINVAL;
	void *st;

	if (FILE_ENG_DATA(f))
		return 0;
	err[0] = 0;
	st = pifio_file_probe(opts_of(td), f->file_name, &size, &errnum, err, sizeof(err));
	if (!st)
		return fail(td, errnum, err, "pifio_probe");
	FILE_SET_ENG_DATA(f, st);
	f->real_file_size = size;
	fio_file_set_size_known(f);
	return 0;
}

static int pifio_get_file_size(struct thread_data *td, struct fio_file *f)
{
	if (fio_file_size_known(f) && FILE_ENG_DATA(f))
		return 0;
	return ensure_probed(td, f);
}

/* The engine freed the file states it owned: drop fio's pointers to them. */
static void forget_file_states(struct thread_data *td)
{
	struct fio_file *f;
	unsigned int i;

	for_each_file(td, f, i)
		FILE_SET_ENG_DATA(f, NULL);
}

/* File states not handed to an engine. */
static void free_file_states(struct thread_data *td)
{
	struct fio_file *f;
	unsigned int i;

	for_each_file(td, f, i) {
		pifio_file_free(FILE_ENG_DATA(f));
		FILE_SET_ENG_DATA(f, NULL);
	}
}

/*
 * fio clamps a size beyond the end of a device to the device (and does
 * nothing for an offset beyond it), then exits 0: the job did less than it
 * asked. Called before fio sets up the files, while size and offset are
 * the job's own. Percentages and filesize= are left to fio. A job that
 * writes to a read-only block device is refused here too, not at its first
 * write.
 */
static int check_range(struct thread_data *td, struct fio_file *f)
{
	unsigned long long dev = f->real_file_size;
	unsigned long long off = td->o.start_offset + td->subjob_number * td->o.offset_increment;
	unsigned long long per_file = td->o.size / (td->o.nr_files ? td->o.nr_files : 1);
	char msg[512];

	if (td_write(td) && f->filetype == FIO_TYPE_BLOCK) {
		int ro = 0, fd = open(f->file_name, O_RDONLY | O_CLOEXEC);

		if (fd >= 0 && ioctl(fd, BLKROGET, &ro) == 0 && ro) {
			close(fd);
			snprintf(msg, sizeof(msg), "%s is a read-only device and the job writes; use rw=read or "
				 "randread, or make the device writable (blockdev --setrw)", f->file_name);
			return fail(td, EROFS, msg, "pifio_init");
		}
		if (fd >= 0)
			close(fd);
	}
	if (!dev || td->o.start_offset_percent || td->o.offset_increment_percent || td->o.file_size_low)
		return 0;
	if (off >= dev) {
		snprintf(msg, sizeof(msg), "offset=%llu lies beyond the end of %s (%llu bytes); use offset < %llu",
			 off, f->file_name, dev, dev);
		return fail(td, EINVAL, msg, "pifio_init");
	}
	if (per_file > dev - off) {
		snprintf(msg, sizeof(msg), "size=%llu from offset %llu lies beyond the end of %s (%llu bytes); "
			 "use size=%llu or less", per_file, off, f->file_name, dev, dev - off);
		return fail(td, EINVAL, msg, "pifio_init");
	}
	return 0;
}

static int pifio_init(struct thread_data *td)
{
	struct pifio_td *d;
	struct pifio_job j;
	struct fio_file *f;
	void **files;
	char err[1024];
	unsigned int i;

	for_each_file(td, f, i) {
		if (ensure_probed(td, f)) {
			free_file_states(td);
			return 1;
		}
		if (check_range(td, f)) {
			free_file_states(td);
			return 1;
		}
	}

	memset(&j, 0, sizeof(j));
	j.name = td->o.name;
	j.iodepth = td->o.iodepth;
	for (i = 0; i < 2; i++) {
		j.min_bs[i] = td->o.min_bs[i];
		j.max_bs[i] = td->o.max_bs[i];
	}
	j.fio_verify = td->o.verify != VERIFY_NONE;
	j.reads = td_read(td) || j.fio_verify;
	j.writes = td_write(td);
	j.trims = td_trim(td);
	j.nfiles = td->o.nr_files;
	j.log = glue_log;
	j.info = glue_info;
	j.subjob = td->subjob_number;
	j.numjobs = td->o.numjobs;

	files = calloc(td->files_index ? td->files_index : 1, sizeof(void *));
	d = calloc(1, sizeof(*d));
	if (!files || !d) {
		free(files);
		free(d);
		free_file_states(td);
		return fail(td, ENOMEM, "out of memory", "pifio_init");
	}
	for_each_file(td, f, i)
		files[i] = FILE_ENG_DATA(f);

	err[0] = 0;
	d->eng = pifio_engine_new(opts_of(td), &j, files, td->files_index, err, sizeof(err));
	free(files);
	if (!d->eng) {
		free(d);
		free_file_states(td);
		return fail(td, EINVAL, err, "pifio_init");
	}
	/* The engine owns the file states now; they outlive fio's close/reopen. */
	d->depth = td->o.iodepth ? td->o.iodepth : 1;
	d->io_u_index = calloc(d->depth, sizeof(struct io_u *));
	d->pending = calloc(d->depth, sizeof(struct io_u *));
	if (!d->io_u_index || !d->pending) {
		pifio_engine_free(d->eng);
		forget_file_states(td);
		free(d->io_u_index);
		free(d->pending);
		free(d);
		return fail(td, ENOMEM, "out of memory", "pifio_init");
	}
	td->io_ops_data = d;
	return 0;
}

static int pifio_io_u_init(struct thread_data *td, struct io_u *io_u)
{
	struct pifio_td *d = td->io_ops_data;

	if (io_u->index >= d->depth)
		return fail(td, EINVAL, "io_u index beyond iodepth", "pifio_io_u_init");
	d->io_u_index[io_u->index] = io_u;
	return 0;
}

static int pifio_post_init(struct thread_data *td)
{
	struct pifio_td *d = td->io_ops_data;
	struct iovec *iov;
	char err[1024];
	unsigned int i;
	int ret;

	if (!opts_of(td)->fixedbufs)
		return 0;
	iov = calloc(d->depth, sizeof(*iov));
	if (!iov)
		return fail(td, ENOMEM, "out of memory", "pifio_post_init");
	for (i = 0; i < d->depth; i++) {
		if (!d->io_u_index[i]) {
			free(iov);
			return fail(td, EINVAL, "fixedbufs: io_u missing", "pifio_post_init");
		}
		iov[i].iov_base = d->io_u_index[i]->buf;
		iov[i].iov_len = td_max_bs(td);
	}
	err[0] = 0;
	ret = pifio_engine_register_buffers(d->eng, iov, d->depth, err, sizeof(err));
	free(iov);
	if (ret < 0)
		return fail(td, -ret, err, "pifio_post_init");
	return 0;
}

static int pifio_open_file(struct thread_data *td, struct fio_file *f)
{
	struct pifio_td *d = td->io_ops_data;
	char err[1024];
	int fd = -1, ret;

	if (!d)
		return fail(td, EINVAL, "engine not initialised", "pifio_open_file");
	if (ensure_probed(td, f))
		return 1;
	err[0] = 0;
	ret = pifio_engine_open(d->eng, FILE_ENG_DATA(f), f->fileno, &fd, err, sizeof(err));
	if (ret < 0)
		return fail(td, -ret, err, "pifio_open_file");
	f->fd = fd;
	return 0;
}

/* Closes the fd only: the file's state (format, probes) stays for the next
 * open, and the engine frees it at cleanup. */
static int pifio_close_file(struct thread_data *td, struct fio_file *f)
{
	struct pifio_td *d = td->io_ops_data;
	void *st = FILE_ENG_DATA(f);

	if (st) {
		if (d) {
			pifio_engine_close(d->eng, st);
		} else {
			pifio_file_free(st);
			FILE_SET_ENG_DATA(f, NULL);
		}
	}
	f->fd = -1;
	return 0;
}

static enum fio_q_status pifio_queue(struct thread_data *td, struct io_u *io_u)
{
	struct pifio_td *d = td->io_ops_data;
	int ddir, ret;

	fio_ro_check(td, io_u);

	switch (io_u->ddir) {
	case DDIR_READ:
		ddir = PIFIO_READ;
		break;
	case DDIR_WRITE:
		ddir = PIFIO_WRITE;
		break;
	case DDIR_SYNC:
	case DDIR_DATASYNC:
		ddir = PIFIO_FLUSH;
		break;
	default:
		io_u->error = EOPNOTSUPP;
		return FIO_Q_COMPLETED;
	}

	ret = pifio_engine_queue(d->eng, FILE_ENG_DATA(io_u->file), io_u->index, ddir,
				 io_u->offset, io_u->xfer_buf, io_u->xfer_buflen, io_u);
	if (ret == 1)
		return FIO_Q_BUSY;
	if (ret < 0) {
		io_u->error = -ret;
		/* The target was reformatted under the job (the engine said so
		 * once): stop the job, also with continue_on_error. */
		if (ret == -EMEDIUMTYPE)
			fio_mark_td_terminate(td);
		return FIO_Q_COMPLETED;
	}
	if (d->npending < d->depth)
		d->pending[d->npending++] = io_u;
	return FIO_Q_QUEUED;
}

static int __attribute__((noinline)) pifio_commit_pending(struct thread_data *td, struct pifio_td *d)
{
	struct timespec now;
	unsigned int i;
	int ret;

	ret = pifio_engine_commit(d->eng);
	if (ret < 0) {
		td_verror(td, -ret, "io_uring_submit");
		return ret;
	}
	if (fio_fill_issue_time(td)) {
		fio_gettime(&now, NULL);
		for (i = 0; i < d->npending; i++) {
			memcpy(&d->pending[i]->issue_time, &now, sizeof(now));
			io_u_queued(td, d->pending[i]);
		}
	}
	io_u_mark_submit(td, d->npending);
	d->npending = 0;
	return 0;
}

static int pifio_commit(struct thread_data *td)
{
	struct pifio_td *d = td->io_ops_data;

	/* fio commits again before it reaps; nothing queued (every queued
	 * I/O is in pending): return without a frame or a call into the engine. */
	if (!d->npending)
		return 0;
	return pifio_commit_pending(td, d);
}

static int pifio_getevents(struct thread_data *td, unsigned int min, unsigned int max,
			   const struct timespec *t)
{
	struct pifio_td *d = td->io_ops_data;
	int ret = pifio_engine_getevents(d->eng, min, max, t);

	if (ret < 0)
		td_verror(td, -ret, "io_uring_wait_cqe");
	return ret;
}

static struct io_u *pifio_event(struct thread_data *td, int ev)
{
	struct pifio_td *d = td->io_ops_data;
	int err = 0;
	struct io_u *io_u = pifio_engine_event(d->eng, ev, &err);

	io_u->error = err;
	io_u->resid = 0;
	return io_u;
}

static void pifio_cleanup(struct thread_data *td)
{
	struct pifio_td *d = td->io_ops_data;
	char err[1024];
	int ret;

	if (!d)
		return;
	err[0] = 0;
	ret = pifio_engine_finish(d->eng, err, sizeof(err));
	if (ret < 0) {
		log_err("pifio: %s\n", err);
		if (!td->error)
			td_verror(td, -ret, "pi_report");
	} else if (ret > 0) {
		/* PI errors, a format changed under the job, or nothing verified
		 * where checks were asked: fio exits non-zero, also with
		 * continue_on_error. One "pifio: ..." line per reason. */
		log_err("%s\n", err[0] ? err : "pifio: the job failed its PI checks");
		if (!td->error)
			td_verror(td, ret, "pifio verify");
	}
	pifio_engine_free(d->eng);
	forget_file_states(td);
	free(d->io_u_index);
	free(d->pending);
	free(d);
	td->io_ops_data = NULL;
}

struct ioengine_ops ioengine = {
	.name			= "pifio",
	.version		= FIO_IOOPS_VERSION,
	.flags			= FIO_RAWIO | FIO_NOEXTEND | FIO_MEMALIGN | FIO_ASYNCIO_SETS_ISSUE_TIME,
	.init			= pifio_init,
	.post_init		= pifio_post_init,
	.io_u_init		= pifio_io_u_init,
	.queue			= pifio_queue,
	.commit			= pifio_commit,
	.getevents		= pifio_getevents,
	.event			= pifio_event,
	.cleanup		= pifio_cleanup,
	.open_file		= pifio_open_file,
	.close_file		= pifio_close_file,
	.get_file_size		= pifio_get_file_size,
	.options		= options,
	.option_struct_size	= sizeof(struct pifio_fio_options),
};
