/*
 * notify-listen — the integration tests' stand-in for systemd's side of the notify protocol:
 * binds a Unix datagram socket at PATH (what NOTIFY_SOCKET names) and writes every datagram it
 * receives to standard output, one line per assignment, prefixed by the monotonic time in ms:
 *
 *     12345678 READY=1
 *     12345690 STATUS=orders: active, ...
 *
 * Runs until killed. Output is flushed after every datagram so tests can watch the file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char buf[65536];
	int fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "usage: notify-listen PATH (shorter than %zu bytes)\n",
			sizeof(addr.sun_path));
		return 2;
	}
	strcpy(addr.sun_path, argv[1]);
	unlink(argv[1]);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		fprintf(stderr, "notify-listen: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
		struct timespec ts;
		char *line, *save;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "notify-listen: %s\n", strerror(errno));
			return 1;
		}
		buf[n] = '\0';
		clock_gettime(CLOCK_MONOTONIC, &ts);
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			printf("%lld %s\n", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, line);
		fflush(stdout);
	}
}
