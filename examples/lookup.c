/* The smallest useful client: cc lookup.c $(pkg-config --cflags --libs polyai-handoff) */
#include <polyai_handoff.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (handoff_init(argc > 2 ? argv[2] : NULL) != HANDOFF_OK) {   /* config file, then POLYAI_HANDOFF_* */
        fprintf(stderr, "init: %s\n", handoff_init_error());
        return 1;
    }
    handoff_result *r = handoff_lookup(argc > 1 ? argv[1] : "acme-call-123");
    printf("status: %s %s\n", handoff_status_name(handoff_result_status(r)), handoff_result_error(r));
    for (size_t i = 0; i < handoff_result_count(r); i++)
        printf("%s = %s\n", handoff_result_key(r, i), handoff_result_value(r, i));
    handoff_result_free(r);
    handoff_shutdown();
    return 0;
}
