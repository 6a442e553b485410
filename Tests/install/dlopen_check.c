/* Loads the library the way a PBX module loader does, by soname, and calls
 * through the looked-up symbols. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    void *library = dlopen(argc > 1 ? argv[1] : "libpolyai_handoff.so.1", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    const char *(*version)(void) = (const char *(*)(void))dlsym(library, "handoff_version");
    const char *(*status_name)(int) = (const char *(*)(int))dlsym(library, "handoff_status_name");
    if (version == NULL || status_name == NULL) {
        fprintf(stderr, "dlsym: %s\n", dlerror());
        return 1;
    }
    printf("dlopen: version %s, status 5 is %s\n", version(), status_name(5));
    int ok = strcmp(status_name(5), "not_found") == 0 && dlsym(library, "swift_retain") == NULL;
    dlclose(library);
    return ok ? 0 : 1;
}
