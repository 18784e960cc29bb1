/*
 * The one unit-test runner: every suite in main_suites[] runs in one
 * SRunner.  The exit status is non-zero if any check failed or errored.
 * CK_FORK, CK_RUN_SUITE and CK_RUN_CASE work as Check documents them.
 */
#include <stdlib.h>

#include <check.h>

#include "suites.h"

/* Adding a module's suite is one line here (and its prototype in suites.h). */
static Suite *(*const main_suites[])(void) = {
	suite_common,
	suite_frame,
	suite_codec,
	suite_registry,
	suite_hostcfg,
	suite_catalog,
	suite_proc,
	suite_qmp,
	suite_zfs,
	suite_freeze,
	suite_disk,
	suite_diskuse,
	suite_serve,
	suite_hooks,
	suite_info,
	suite_workflow,
	suite_snapgroup,
};

int
main(void)
{
	SRunner	*sr;
	size_t	 i;
	int	 failed;

	sr = srunner_create(main_suites[0]());
	for (i = 1; i < sizeof main_suites / sizeof main_suites[0]; i++)
		srunner_add_suite(sr, main_suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
