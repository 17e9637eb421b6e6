/*
 * The C interface between engine/fio/glue.c (the only file that includes fio
 * headers) and the C++ engine (engine/backend/c_api.cpp). Plain C types only.
 *
 * Error convention: functions that can fail return a negative errno (or NULL)
 * and write a message saying what to do into err[errlen].
 */
#ifndef PIFIO_GLUE_API_H
#define PIFIO_GLUE_API_H

#include <stddef.h>
#include <sys/uio.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Engine options, as fio parsed them: one field (two for the *_SET kinds)
 * per row of options.def. glue.c lets fio fill this struct directly. */
#define PIFIO_C_UINT(n) unsigned int n;
#define PIFIO_C_BOOL(n) unsigned int n;
#define PIFIO_C_FLAG(n) unsigned int n;
#define PIFIO_C_STR(n) const char *n;
#define PIFIO_C_PARSED(n) const char *n;
#define PIFIO_C_UINT_SET(n) unsigned int n; unsigned int n##_set;
#define PIFIO_C_ULL_SET(n) unsigned long long n; unsigned int n##_set;
struct pifio_opts {
#define PIFIO_OPT(name, kind, def, lname, help) PIFIO_C_##kind(name)
#include "options.def"
#undef PIFIO_OPT
};
#undef PIFIO_C_UINT
#undef PIFIO_C_BOOL
#undef PIFIO_C_FLAG
#undef PIFIO_C_STR
#undef PIFIO_C_PARSED
#undef PIFIO_C_UINT_SET
#undef PIFIO_C_ULL_SET

/* What the job does. */
struct pifio_job {
	const char *name;
	unsigned int iodepth;
	unsigned long long min_bs[2];	/* [read, write] */
	unsigned long long max_bs[2];
	int reads, writes, trims;
	int fio_verify;
	unsigned int nfiles;
	void (*log)(const char *line);	/* one line, no trailing newline: errors (fio's stderr) */
	void (*info)(const char *line);	/* set-up remarks (fio's info log); NULL: log */
	unsigned int subjob, numjobs;	/* numjobs > 1: pi_report gets a .<subjob> suffix */
};

enum pifio_ddir { PIFIO_READ = 0, PIFIO_WRITE = 1, PIFIO_FLUSH = 2 };

/* Per-file state (fio's f->engine_data): the backend, its format and probe
 * results, kept across fio's close/reopen of the file. */
void *pifio_file_probe(const struct pifio_opts *o, const char *path,
		       unsigned long long *size, int *errnum, char *err, size_t errlen);
/* Frees a state no engine owns (the engine frees the ones it owns). */
void pifio_file_free(void *file);

/* Per-thread engine (fio's td->io_ops_data). files[i] belongs to fileno i.
 * On success the engine owns the file states (freed by pifio_engine_free);
 * on failure the caller still does. */
void *pifio_engine_new(const struct pifio_opts *o, const struct pifio_job *j,
		       void *const *files, unsigned int nfiles,
		       char *err, size_t errlen);
/* Opens the file's fd (and registers it); *fd gets it for fio. The engine
 * owns `file` from now on. */
int pifio_engine_open(void *eng, void *file, unsigned int fileno, int *fd,
		      char *err, size_t errlen);
/* Closes the fd (after pi_audit's checks); the state stays for a reopen. */
void pifio_engine_close(void *eng, void *file);
/* fixedbufs: iov[i] is the buffer of io_u index i. */
int pifio_engine_register_buffers(void *eng, const struct iovec *iov,
				  unsigned int n, char *err, size_t errlen);

/* Hot path. queue: 0 queued, 1 ring full (commit first), < 0: -errno, the
 * io is complete with that error. */
int pifio_engine_queue(void *eng, void *file, unsigned int slot, int ddir,
		       unsigned long long offset, void *buf,
		       unsigned long long len, void *cookie);
/* Submits what was queued; returns how many, or -errno. */
int pifio_engine_commit(void *eng);
int pifio_engine_getevents(void *eng, unsigned int min, unsigned int max,
			   const struct timespec *t);
/* The i-th reaped completion: returns its cookie, *err gets 0 or an errno. */
void *pifio_engine_event(void *eng, int i, int *err);

/* End of job: writes pi_report. Returns 0 when clean; a positive errno when
 * the job must fail (EMEDIUMTYPE: a target's format changed under the job;
 * EILSEQ: PI mismatches or device PI errors; ENODATA: checks were asked and
 * no block was checked), err gets one "pifio: ..." line per reason; -errno
 * when the report could not be written. */
int pifio_engine_finish(void *eng, char *err, size_t errlen);
/* Frees the engine and the file states it owns. */
void pifio_engine_free(void *eng);

#ifdef __cplusplus
}
#endif

#endif
