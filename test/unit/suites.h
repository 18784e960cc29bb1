/*
 * Suites of the unit-test runner (check_main.c), one per module, each
 * defined in test/unit/check_<module>.c.  A new suite is declared here and
 * listed in main_suites[] in check_main.c.
 */
#ifndef EVG_TEST_SUITES_H
#define EVG_TEST_SUITES_H

#include <check.h>

Suite	*suite_common(void);
Suite	*suite_frame(void);
Suite	*suite_codec(void);
Suite	*suite_registry(void);
Suite	*suite_hostcfg(void);
Suite	*suite_catalog(void);
Suite	*suite_proc(void);
Suite	*suite_qmp(void);
Suite	*suite_zfs(void);
Suite	*suite_freeze(void);
Suite	*suite_disk(void);
Suite	*suite_diskuse(void);
Suite	*suite_serve(void);
Suite	*suite_hooks(void);
Suite	*suite_info(void);
Suite	*suite_workflow(void);
Suite	*suite_snapgroup(void);

#endif
