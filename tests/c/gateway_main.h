/* The start of a C suite that runs against runbeam-devcloud with one client of its API:
 * the usage check, no provisioned machine token in the environment, a started devcloud and the
 * client. Include after runbeam.h and devcloud.h. */
#ifndef RUNBEAM_TESTS_GATEWAY_MAIN_H
#define RUNBEAM_TESTS_GATEWAY_MAIN_H

/* Returns 0 with `*client` set, or 2 (the suite's exit status) after saying why. */
static inline int gateway_main_setup(int argc, char **argv, runbeam_client **client) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <runbeam-devcloud>\n", argv[0]);
        return 2;
    }
    unsetenv("RUNBEAM_MACHINE_TOKEN");
    if (devcloud_start(argv[1]) != 0) {
        fprintf(stderr, "cannot start %s\n", argv[1]);
        devcloud_stop();
        return 2;
    }
    runbeam_client_config *cc = NULL;
    if (runbeam_client_config_new(api_url, &cc) != RUNBEAM_OK ||
        runbeam_client_new(cc, client) != RUNBEAM_OK) {
        fprintf(stderr, "client: %s\n", runbeam_last_error_message());
        runbeam_client_config_free(cc);
        devcloud_stop();
        return 2;
    }
    runbeam_client_config_free(cc);
    return 0;
}

#endif
