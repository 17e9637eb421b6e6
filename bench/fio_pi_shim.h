/* fio's own per-I/O PI generate/verify (engines/nvme.c of the fio tree),
 * behind an interface without fio types. See fio_pi_shim.c. */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

struct fio_pi_io;

/* One namespace format and the PRCHK guard|app|ref checks fio's
 * io_uring_cmd engine sets with pi_chk=GUARD,APPTAG,REFTAG. Null on ENOMEM. */
struct fio_pi_io *fio_pi_io_new(unsigned lba_size, unsigned ms, int ext, int pi_first, int g64,
				unsigned pi_type, unsigned short apptag);
void fio_pi_io_free(struct fio_pi_io *p);
/* A write of len bytes (data buffer; md: separate metadata or null) at slba. */
void fio_pi_io_generate(struct fio_pi_io *p, void *buf, void *md, unsigned long long len, unsigned long long slba);
/* A read completion: 0 when every block passes, else -EIO (fio's verdict). */
int fio_pi_io_verify(struct fio_pi_io *p, void *buf, void *md, unsigned long long len, unsigned long long slba);

#ifdef __cplusplus
}
#endif
