/* Unit tests for common/frame.c: the incremental frame decoder. */
#include <sys/resource.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "frame.h"
#include "suites.h"

/* Build header + payload of len bytes (byte i is i*7+1) into a new buffer. */
static uint8_t *
frame_build(uint32_t len, size_t *total)
{
	uint8_t		*buf;
	uint32_t	 i;

	*total = FRAME_HEADER_SIZE + (size_t)len;
	buf = malloc(*total);
	ck_assert_ptr_nonnull(buf);
	frame_put_header(buf, len);
	for (i = 0; i < len; i++)
		buf[FRAME_HEADER_SIZE + i] = (uint8_t)(i * 7 + 1);
	return (buf);
}

/* Proves the header is big-endian and counts the payload only. */
START_TEST(test_frame_put_header)
{
	uint8_t	hdr[FRAME_HEADER_SIZE];

	frame_put_header(hdr, 0x01020304);
	ck_assert_uint_eq(hdr[0], 0x01);
	ck_assert_uint_eq(hdr[1], 0x02);
	ck_assert_uint_eq(hdr[2], 0x03);
	ck_assert_uint_eq(hdr[3], 0x04);
	frame_put_header(hdr, 5);
	ck_assert_mem_eq(hdr, "\0\0\0\5", 4);
}
END_TEST

/* Proves a cap of 0 or past FRAME_MAX_LIMIT is clamped to the limit. */
START_TEST(test_frame_init_clamps_cap)
{
	struct frame_decoder	dec;

	frame_decoder_init(&dec, 0);
	ck_assert_uint_eq(dec.max, FRAME_MAX_LIMIT);
	frame_decoder_init(&dec, FRAME_MAX_LIMIT + 1);
	ck_assert_uint_eq(dec.max, FRAME_MAX_LIMIT);
	frame_decoder_init(&dec, 10);
	ck_assert_uint_eq(dec.max, 10);
	ck_assert_int_eq(dec.state, FRAME_STATE_HEADER);
	ck_assert_ptr_null(dec.body);
}
END_TEST

/* Proves a frame fed one byte at a time (header included) decodes intact. */
START_TEST(test_frame_split_prefix)
{
	struct frame_decoder	 dec;
	enum frame_result	 fr;
	uint8_t			*buf, *payload;
	uint32_t		 plen;
	size_t			 total, used, i;

	buf = frame_build(9, &total);
	frame_decoder_init(&dec, 100);
	for (i = 0; i < total - 1; i++) {
		fr = frame_decoder_feed(&dec, buf + i, 1, &used, &payload,
		    &plen);
		ck_assert_int_eq(fr, FRAME_NEED_MORE);
		ck_assert_uint_eq(used, 1);
		ck_assert_ptr_null(payload);
		ck_assert_int_eq(frame_decoder_partial(&dec), 1);
		if (i < FRAME_HEADER_SIZE - 1)
			ck_assert_ptr_null(dec.body);
	}
	fr = frame_decoder_feed(&dec, buf + total - 1, 1, &used, &payload,
	    &plen);
	ck_assert_int_eq(fr, FRAME_OK);
	ck_assert_uint_eq(used, 1);
	ck_assert_uint_eq(plen, 9);
	ck_assert_ptr_nonnull(payload);
	ck_assert_mem_eq(payload, buf + FRAME_HEADER_SIZE, 9);
	ck_assert_int_eq(frame_decoder_partial(&dec), 0);
	free(payload);
	free(buf);
	frame_decoder_reset(&dec);
}
END_TEST

/* Proves a payload split across reads is joined, with used counted exactly. */
START_TEST(test_frame_split_body)
{
	struct frame_decoder	 dec;
	enum frame_result	 fr;
	uint8_t			*buf, *payload;
	uint32_t		 plen;
	size_t			 total, used;

	buf = frame_build(1000, &total);
	frame_decoder_init(&dec, FRAME_MAX_GUEST);
	fr = frame_decoder_feed(&dec, buf, 300, &used, &payload, &plen);
	ck_assert_int_eq(fr, FRAME_NEED_MORE);
	ck_assert_uint_eq(used, 300);
	ck_assert_uint_eq(dec.have, 300 - FRAME_HEADER_SIZE);
	fr = frame_decoder_feed(&dec, buf + 300, 400, &used, &payload, &plen);
	ck_assert_int_eq(fr, FRAME_NEED_MORE);
	ck_assert_uint_eq(used, 400);
	fr = frame_decoder_feed(&dec, buf + 700, total - 700, &used, &payload,
	    &plen);
	ck_assert_int_eq(fr, FRAME_OK);
	ck_assert_uint_eq(used, total - 700);
	ck_assert_uint_eq(plen, 1000);
	ck_assert_mem_eq(payload, buf + FRAME_HEADER_SIZE, 1000);
	free(payload);
	free(buf);
}
END_TEST

/* Proves feeding zero bytes is a no-op that asks for more. */
START_TEST(test_frame_empty_feed)
{
	struct frame_decoder	 dec;
	uint8_t			 byte = 0, *payload;
	uint32_t		 plen;
	size_t			 used = 99;

	frame_decoder_init(&dec, 100);
	ck_assert_int_eq(frame_decoder_feed(&dec, &byte, 0, &used, &payload,
	    &plen), FRAME_NEED_MORE);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(frame_decoder_partial(&dec), 0);
}
END_TEST

/* Proves a zero-length frame is a protocol error, reported at the header. */
START_TEST(test_frame_zero_length)
{
	struct frame_decoder	 dec;
	uint8_t			 buf[8] = { 0, 0, 0, 0, 1, 2, 3, 4 }, *payload;
	uint32_t		 plen;
	size_t			 used;

	frame_decoder_init(&dec, 100);
	ck_assert_int_eq(frame_decoder_feed(&dec, buf, sizeof buf, &used,
	    &payload, &plen), FRAME_ERROR);
	ck_assert_uint_eq(used, FRAME_HEADER_SIZE);
	ck_assert_ptr_null(payload);
	ck_assert_ptr_null(dec.body);
	ck_assert_int_eq(dec.state, FRAME_STATE_FAILED);
	ck_assert_str_eq(dec.error, "zero-length frame");
}
END_TEST

/*
 * Proves cap+1 is refused as soon as the header is complete: no body bytes
 * are consumed, no buffer is kept and the reason names both sizes.
 */
START_TEST(test_frame_oversize)
{
	struct frame_decoder	 dec;
	enum frame_result	 fr;
	uint8_t			*buf, *payload;
	uint32_t		 plen;
	size_t			 total, used, i;

	buf = frame_build(FRAME_MAX_GUEST + 1, &total);
	frame_decoder_init(&dec, FRAME_MAX_GUEST);
	for (i = 0; i < FRAME_HEADER_SIZE - 1; i++) {
		fr = frame_decoder_feed(&dec, buf + i, 1, &used, &payload,
		    &plen);
		ck_assert_int_eq(fr, FRAME_NEED_MORE);
		ck_assert_ptr_null(dec.body);
	}
	fr = frame_decoder_feed(&dec, buf + i, total - i, &used, &payload,
	    &plen);
	ck_assert_int_eq(fr, FRAME_ERROR);
	ck_assert_uint_eq(used, 1);
	ck_assert_ptr_null(payload);
	ck_assert_uint_eq(plen, 0);
	ck_assert_ptr_null(dec.body);
	ck_assert_uint_eq(dec.have, 0);
	ck_assert_str_eq(dec.error,
	    "frame of 65537 bytes exceeds the 65536-byte cap");
	free(buf);
}
END_TEST

/* AddressSanitizer reserves terabytes of address space: no RLIMIT_AS. */
#if defined(__SANITIZE_ADDRESS__)
#define FRAME_TEST_ASAN	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FRAME_TEST_ASAN	1
#endif
#endif

/* Feed a header announcing 4 GiB - 1 to a decoder at FRAME_MAX_LIMIT. */
static int
frame_huge_header_refused(void)
{
	struct frame_decoder	 dec;
	const uint8_t		 hdr[] = { 0xff, 0xff, 0xff, 0xff };
	uint8_t			*payload;
	uint32_t		 plen;
	size_t			 used;

	frame_decoder_init(&dec, FRAME_MAX_LIMIT);
	return (frame_decoder_feed(&dec, hdr, sizeof hdr, &used, &payload,
	    &plen) == FRAME_ERROR && dec.body == NULL && used == sizeof hdr);
}

/*
 * Proves the cap is checked before allocating: in a child whose address
 * space is limited to what it already uses plus 64 MiB (checked to make a
 * 4 GiB malloc fail), a header announcing 4 GiB - 1 bytes is refused; had
 * the decoder allocated first, xmalloc would have aborted the child.  Under
 * AddressSanitizer only the in-process refusal is checked.
 */
START_TEST(test_frame_oversize_never_allocates)
{
#ifdef FRAME_TEST_ASAN
	ck_assert_int_eq(frame_huge_header_refused(), 1);
#else
	struct rlimit	 rl;
	unsigned long	 pages;
	FILE		*f;
	void		*probe;
	pid_t		 pid;
	int		 status;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if ((f = fopen("/proc/self/statm", "r")) == NULL ||
		    fscanf(f, "%lu", &pages) != 1)
			_exit(10);
		fclose(f);
		rl.rlim_cur = rl.rlim_max = pages *
		    (unsigned long)sysconf(_SC_PAGESIZE) + 64UL * 1024 * 1024;
		if (setrlimit(RLIMIT_AS, &rl) == -1)
			_exit(11);
		if ((probe = malloc(0xffffffffU)) != NULL)
			_exit(12);
		_exit(frame_huge_header_refused() ? 0 : 13);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child killed by signal %d",
	    WIFSIGNALED(status) ? WTERMSIG(status) : -1);
	ck_assert_msg(WEXITSTATUS(status) == 0, "child exit %d (10-12: the "
	    "address-space limit could not be set up)", WEXITSTATUS(status));
#endif
}
END_TEST

/* Proves a payload of exactly the cap is accepted whole. */
START_TEST(test_frame_at_cap)
{
	struct frame_decoder	 dec;
	uint8_t			*buf, *payload;
	uint32_t		 plen;
	size_t			 total, used;

	buf = frame_build(FRAME_MAX_GUEST, &total);
	frame_decoder_init(&dec, FRAME_MAX_GUEST);
	ck_assert_int_eq(frame_decoder_feed(&dec, buf, total, &used, &payload,
	    &plen), FRAME_OK);
	ck_assert_uint_eq(used, total);
	ck_assert_uint_eq(plen, FRAME_MAX_GUEST);
	ck_assert_mem_eq(payload, buf + FRAME_HEADER_SIZE, FRAME_MAX_GUEST);
	free(payload);
	free(buf);
}
END_TEST

/*
 * Proves text that is not a frame (an HTTP request, all-ones bytes) reads
 * as an absurd length and is refused at the header.
 */
START_TEST(test_frame_garbage)
{
	static const char	*inputs[] = {
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"\xff\xff\xff\xff\xff\xff\xff\xff",
		"SSH-2.0-OpenSSH_9.2\r\n",
	};
	struct frame_decoder	 dec;
	uint8_t			*payload;
	uint32_t		 plen;
	size_t			 used, i;

	for (i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		frame_decoder_init(&dec, FRAME_MAX_CONTROL);
		ck_assert_int_eq(frame_decoder_feed(&dec, inputs[i],
		    strlen(inputs[i]), &used, &payload, &plen), FRAME_ERROR);
		ck_assert_uint_eq(used, FRAME_HEADER_SIZE);
		ck_assert_ptr_null(payload);
		ck_assert_ptr_null(dec.body);
		ck_assert_ptr_nonnull(strstr(dec.error, "exceeds"));
	}
}
END_TEST

/* Proves several frames in one read come out in order, then a partial. */
START_TEST(test_frame_many_in_one_buffer)
{
	static const uint32_t	 sizes[] = { 1, 300, 17, 2 };
	struct frame_decoder	 dec;
	enum frame_result	 fr;
	uint8_t			 all[1024], *one, *payload;
	uint32_t		 plen;
	size_t			 n = 0, off = 0, total, used, i, got = 0;
	size_t			 starts[4];

	for (i = 0; i < 4; i++) {
		one = frame_build(sizes[i], &total);
		one[FRAME_HEADER_SIZE] = (uint8_t)(0xa0 + i);
		starts[i] = n;
		memcpy(all + n, one, total);
		n += total;
		free(one);
	}
	n -= 1;		/* the last frame lacks its final byte */
	frame_decoder_init(&dec, 1024);
	for (;;) {
		fr = frame_decoder_feed(&dec, all + off, n - off, &used,
		    &payload, &plen);
		off += used;
		if (fr != FRAME_OK)
			break;
		ck_assert_uint_eq(plen, sizes[got]);
		ck_assert_uint_eq(payload[0], 0xa0 + got);
		ck_assert_mem_eq(payload, all + starts[got] + FRAME_HEADER_SIZE,
		    plen);
		free(payload);
		got++;
	}
	ck_assert_int_eq(fr, FRAME_NEED_MORE);
	ck_assert_uint_eq(got, 3);
	ck_assert_uint_eq(off, n);
	ck_assert_int_eq(frame_decoder_partial(&dec), 1);
	ck_assert_uint_eq(dec.have, 1);
	frame_decoder_reset(&dec);
}
END_TEST

/*
 * Proves frame_decoder_partial is true exactly while a frame is started but
 * unfinished: not when idle, finished, failed or reset.
 */
START_TEST(test_frame_partial)
{
	struct frame_decoder	 dec;
	uint8_t			*buf, *payload;
	uint32_t		 plen;
	size_t			 total, used;

	buf = frame_build(4, &total);
	frame_decoder_init(&dec, 100);
	ck_assert_int_eq(frame_decoder_partial(&dec), 0);
	frame_decoder_feed(&dec, buf, 1, &used, &payload, &plen);
	ck_assert_int_eq(frame_decoder_partial(&dec), 1);
	frame_decoder_feed(&dec, buf + 1, 3, &used, &payload, &plen);
	ck_assert_int_eq(dec.state, FRAME_STATE_BODY);
	ck_assert_int_eq(frame_decoder_partial(&dec), 1);
	ck_assert_int_eq(frame_decoder_feed(&dec, buf + 4, 4, &used, &payload,
	    &plen), FRAME_OK);
	free(payload);
	ck_assert_int_eq(frame_decoder_partial(&dec), 0);

	frame_decoder_feed(&dec, buf, 6, &used, &payload, &plen);
	ck_assert_int_eq(frame_decoder_partial(&dec), 1);
	ck_assert_ptr_nonnull(dec.body);
	frame_decoder_reset(&dec);
	ck_assert_int_eq(frame_decoder_partial(&dec), 0);
	ck_assert_ptr_null(dec.body);
	ck_assert_int_eq(dec.state, FRAME_STATE_HEADER);

	/* After a reset the next frame starts cleanly at a boundary. */
	ck_assert_int_eq(frame_decoder_feed(&dec, buf, total, &used, &payload,
	    &plen), FRAME_OK);
	ck_assert_mem_eq(payload, buf + FRAME_HEADER_SIZE, 4);
	free(payload);

	frame_put_header(buf, 1000);
	ck_assert_int_eq(frame_decoder_feed(&dec, buf, total, &used, &payload,
	    &plen), FRAME_ERROR);
	ck_assert_int_eq(frame_decoder_partial(&dec), 0);
	free(buf);
}
END_TEST

/*
 * Proves a failed decoder takes nothing more, even a valid frame and even
 * after a reset, and keeps its reason.
 */
START_TEST(test_frame_refuses_after_error)
{
	struct frame_decoder	 dec;
	uint8_t			*good, *payload;
	uint8_t			 bad[FRAME_HEADER_SIZE];
	uint32_t		 plen;
	size_t			 total, used;

	good = frame_build(3, &total);
	frame_put_header(bad, 101);
	frame_decoder_init(&dec, 100);
	ck_assert_int_eq(frame_decoder_feed(&dec, bad, sizeof bad, &used,
	    &payload, &plen), FRAME_ERROR);

	ck_assert_int_eq(frame_decoder_feed(&dec, good, total, &used, &payload,
	    &plen), FRAME_ERROR);
	ck_assert_uint_eq(used, 0);
	ck_assert_ptr_null(payload);
	ck_assert_str_eq(dec.error, "frame of 101 bytes exceeds the 100-byte cap");

	frame_decoder_reset(&dec);
	ck_assert_int_eq(dec.state, FRAME_STATE_FAILED);
	ck_assert_int_eq(frame_decoder_feed(&dec, good, total, &used, &payload,
	    &plen), FRAME_ERROR);
	ck_assert_uint_eq(used, 0);
	free(good);
}
END_TEST

Suite *
suite_frame(void)
{
	Suite	*s = suite_create("frame");
	TCase	*tc = tcase_create("decoder");

	tcase_add_test(tc, test_frame_put_header);
	tcase_add_test(tc, test_frame_init_clamps_cap);
	tcase_add_test(tc, test_frame_split_prefix);
	tcase_add_test(tc, test_frame_split_body);
	tcase_add_test(tc, test_frame_empty_feed);
	tcase_add_test(tc, test_frame_zero_length);
	tcase_add_test(tc, test_frame_oversize);
	tcase_add_test(tc, test_frame_oversize_never_allocates);
	tcase_add_test(tc, test_frame_at_cap);
	tcase_add_test(tc, test_frame_garbage);
	tcase_add_test(tc, test_frame_many_in_one_buffer);
	tcase_add_test(tc, test_frame_partial);
	tcase_add_test(tc, test_frame_refuses_after_error);
	suite_add_tcase(s, tc);
	return (s);
}
