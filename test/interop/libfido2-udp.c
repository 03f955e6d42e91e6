/*
 * Drives keytap's virtual authenticator over UDP CTAPHID with libfido2 (Debian's 1.12), an
 * independent FIDO client, through libfido2's custom I/O table (fido_dev_set_io_functions):
 * write() gets report ID 0 + 64 bytes and sends the 64, read() returns one 64-byte datagram.
 *
 *   libfido2-udp HOST PORT scenario   -> JSON lines, one per step
 *   libfido2-udp HOST PORT credential [PIN] -> JSON lines: makeCredential (PIN) + getAssertion, verified
 *   libfido2-udp HOST PORT bench N    -> one JSON line with per-iteration PIN-change ms
 *
 * Written for keytap's tests; PINs here are throwaway values for a simulator.
 */
#include <arpa/inet.h>
#include <fido.h>
#include <fido/es256.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct udp_handle { int fd; struct sockaddr_in addr; };
static const char *g_host; static int g_port;

static void *udp_open(const char *path) {
	(void)path;
	struct udp_handle *h = calloc(1, sizeof(*h));
	if (h == NULL || (h->fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0) { free(h); return NULL; }
	h->addr.sin_family = AF_INET;
	h->addr.sin_port = htons((uint16_t)g_port);
	if (inet_pton(AF_INET, g_host, &h->addr.sin_addr) != 1) { close(h->fd); free(h); return NULL; }
	return h;
}

static void udp_close(void *handle) {
	struct udp_handle *h = handle;
	close(h->fd);
	free(h);
}

/* ms < 0 means wait forever (libfido2's convention); cap it so a broken test cannot hang. */
static int udp_read(void *handle, unsigned char *buf, size_t len, int ms) {
	struct udp_handle *h = handle;
	struct pollfd p = { .fd = h->fd, .events = POLLIN };
	if (poll(&p, 1, ms < 0 ? 30000 : ms) != 1) return -1;
	ssize_t n = recv(h->fd, buf, len, 0);
	return n == 64 ? (int)n : -1;
}

static int udp_write(void *handle, const unsigned char *buf, size_t len) {
	struct udp_handle *h = handle;
	if (len != 65 || buf[0] != 0) return -1; /* report ID 0 + one 64-byte report */
	ssize_t n = sendto(h->fd, buf + 1, 64, 0, (struct sockaddr *)&h->addr, sizeof(h->addr));
	return n == 64 ? (int)len : -1;
}

static fido_dev_t *open_dev(void) {
	fido_dev_io_t io = { udp_open, udp_close, udp_read, udp_write };
	fido_dev_t *dev = fido_dev_new();
	int r;
	if (dev == NULL) { fprintf(stderr, "fido_dev_new failed\n"); exit(2); }
	if ((r = fido_dev_set_io_functions(dev, &io)) != FIDO_OK || (r = fido_dev_open(dev, "udp")) != FIDO_OK) {
		fprintf(stderr, "open: %s\n", fido_strerr(r));
		exit(2);
	}
	return dev;
}

static void step_retries(fido_dev_t *dev, const char *step, int r) {
	int retries = -1;
	int rr = fido_dev_get_retry_count(dev, &retries);
	printf("{\"step\":\"%s\",\"status\":%d,\"name\":\"%s\",\"retriesStatus\":%d,\"retries\":%d}\n", step, r, fido_strerr(r), rr, retries);
}

static void scenario(void) {
	fido_dev_t *dev = open_dev();
	fido_cbor_info_t *ci = fido_cbor_info_new();
	int r = fido_dev_get_cbor_info(dev, ci);
	printf("{\"step\":\"getInfo\",\"status\":%d,\"versions\":[", r);
	for (size_t i = 0; i < fido_cbor_info_versions_len(ci); i++)
		printf("%s\"%s\"", i ? "," : "", fido_cbor_info_versions_ptr(ci)[i]);
	printf("],\"protocols\":[");
	for (size_t i = 0; i < fido_cbor_info_protocols_len(ci); i++)
		printf("%s%u", i ? "," : "", fido_cbor_info_protocols_ptr(ci)[i]);
	printf("],\"fido2\":%s}\n", fido_dev_is_fido2(dev) ? "true" : "false");
	fido_cbor_info_free(&ci);
	step_retries(dev, "getPINRetries-no-pin", FIDO_OK);
	step_retries(dev, "setPIN", fido_dev_set_pin(dev, "1234", NULL));
	step_retries(dev, "changePIN", fido_dev_set_pin(dev, "56789", "1234"));
	/* Wrong current PIN in a change = one PIN attempt (libfido2 has no bare verify, #562). */
	step_retries(dev, "wrong-pin-1", fido_dev_set_pin(dev, "98765", "0000"));
	step_retries(dev, "wrong-pin-2", fido_dev_set_pin(dev, "98765", "0000"));
	step_retries(dev, "wrong-pin-3", fido_dev_set_pin(dev, "98765", "0000"));
	step_retries(dev, "right-pin-while-soft-blocked", fido_dev_set_pin(dev, "98765", "56789"));
	fido_dev_close(dev);
	fido_dev_free(&dev);
}

/* makeCredential + getAssertion with a PIN; libfido2 verifies the packed self attestation
 * (fido_cred_verify_self) and the assertion signature with the credential's public key. */
static void credential(const char *pin) {
	fido_dev_t *dev = open_dev();
	unsigned char cdh[32], uid[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	int r;
	memset(cdh, 0x5a, sizeof(cdh));
	if (!fido_dev_has_pin(dev)) fido_dev_set_pin(dev, pin, NULL);
	fido_cred_t *cred = fido_cred_new();
	fido_cred_set_type(cred, COSE_ES256);
	fido_cred_set_clientdata_hash(cred, cdh, sizeof(cdh));
	fido_cred_set_rp(cred, "example.com", "Example");
	fido_cred_set_user(cred, uid, sizeof(uid), "alice", "Alice", NULL);
	fido_cred_set_rk(cred, FIDO_OPT_TRUE);
	r = fido_dev_make_cred(dev, cred, pin);
	printf("{\"step\":\"makeCredential\",\"status\":%d,\"name\":\"%s\",\"fmt\":\"%s\"}\n", r, fido_strerr(r), r == FIDO_OK ? fido_cred_fmt(cred) : "");
	r = r == FIDO_OK ? fido_cred_verify_self(cred) : r;
	printf("{\"step\":\"verifySelfAttestation\",\"status\":%d,\"name\":\"%s\"}\n", r, fido_strerr(r));
	fido_assert_t *as = fido_assert_new();
	fido_assert_set_clientdata_hash(as, cdh, sizeof(cdh));
	fido_assert_set_rp(as, "example.com");
	fido_assert_allow_cred(as, fido_cred_id_ptr(cred), fido_cred_id_len(cred));
	r = fido_dev_get_assert(dev, as, pin);
	int v = -1;
	if (r == FIDO_OK) {
		es256_pk_t *pk = es256_pk_new();
		es256_pk_from_ptr(pk, fido_cred_pubkey_ptr(cred), fido_cred_pubkey_len(cred));
		v = fido_assert_verify(as, 0, COSE_ES256, pk);
		es256_pk_free(&pk);
	}
	printf("{\"step\":\"getAssertion\",\"status\":%d,\"name\":\"%s\",\"verify\":%d,\"flags\":%u,\"sigcount\":%u}\n", r, fido_strerr(r), v,
	    r == FIDO_OK ? fido_assert_flags(as, 0) : 0, r == FIDO_OK ? fido_assert_sigcount(as, 0) : 0);
	fido_assert_free(&as);
	fido_cred_free(&cred);
	fido_dev_close(dev);
	fido_dev_free(&dev);
}

static double now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* With `verified`, each change also reads getInfo and the retries before and after: the same
 * work keytap's FidoClient.changePin does to confirm the change. */
static void read_state(fido_dev_t *dev) {
	fido_cbor_info_t *ci = fido_cbor_info_new();
	int retries = -1, r;
	if ((r = fido_dev_get_cbor_info(dev, ci)) != FIDO_OK) { fprintf(stderr, "info: %s\n", fido_strerr(r)); exit(3); }
	fido_cbor_info_free(&ci);
	if ((r = fido_dev_get_retry_count(dev, &retries)) != FIDO_OK) { fprintf(stderr, "retries: %s\n", fido_strerr(r)); exit(3); }
}

static void bench(int n, int verified) {
	fido_dev_t *dev = open_dev();
	const char *pins[2] = { "1234", "5678" };
	int r;
	if (!fido_dev_has_pin(dev) && (r = fido_dev_set_pin(dev, pins[0], NULL)) != FIDO_OK) { fprintf(stderr, "set pin: %s\n", fido_strerr(r)); exit(3); }
	printf("{\"client\":\"libfido2 %s%s\",\"ms\":[", "1.12", verified ? " (same reads as keytap)" : "");
	for (int i = 0; i < n; i++) {
		double t0 = now_ms();
		if (verified) read_state(dev);
		if ((r = fido_dev_set_pin(dev, pins[(i + 1) % 2], pins[i % 2])) != FIDO_OK) { fprintf(stderr, "change pin: %s\n", fido_strerr(r)); exit(3); }
		if (verified) read_state(dev);
		printf("%s%.3f", i ? "," : "", now_ms() - t0);
	}
	printf("]}\n");
	if (n % 2 == 1) fido_dev_set_pin(dev, pins[0], pins[1]);
	fido_dev_close(dev);
	fido_dev_free(&dev);
}

int main(int argc, char **argv) {
	if (argc < 4) { fprintf(stderr, "usage: %s HOST PORT scenario|credential [PIN]|bench N\n", argv[0]); return 64; }
	g_host = argv[1];
	g_port = atoi(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	fido_init(0);
	if (strcmp(argv[3], "scenario") == 0) scenario();
	else if (strcmp(argv[3], "credential") == 0) credential(argc > 4 ? argv[4] : "1234");
	else if (strcmp(argv[3], "bench") == 0 && argc > 4) bench(atoi(argv[4]), 0);
	else if (strcmp(argv[3], "bench-verified") == 0 && argc > 4) bench(atoi(argv[4]), 1);
	else { fprintf(stderr, "unknown mode\n"); return 64; }
	return 0;
}
