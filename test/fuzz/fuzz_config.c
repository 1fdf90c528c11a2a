/*
 * Fuzz target: arbitrary bytes as the operator's config file. The loader
 * reads files by path (and resolves it), so the input goes into a real
 * temporary file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"
#include "types.h"

/*
 * libconfig 1.5 leaks scanner buffers on some syntax errors (lsan.supp, a
 * library bug at load time only). The corpus replay in `make check` runs
 * without LSAN_OPTIONS, so the same suppression is built in; LeakSanitizer
 * calls this when it is linked in.
 */
const char *__lsan_default_suppressions(void);

const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wsg_config *cfg = NULL;
	char path[] = "/tmp/wssgate-fuzz-XXXXXX", *errors = NULL;
	int fd;

	fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (size == 0 || write(fd, data, size) == (ssize_t)size) {
		if (wsg_config_load(path, &cfg, &errors) == WSG_OK)
			wsg_config_unref(cfg);
		free(errors);
	}
	close(fd);
	unlink(path);
	return 0;
}
