// The header must compile as C++ (extern "C" guards) with strict warnings.
#include "runbeam.h"

int main() {
    runbeam_reference *ref = nullptr;
    runbeam_status status = runbeam_reference_parse("runbeam.id.x", &ref);
    runbeam_reference_free(ref);
    return status == RUNBEAM_OK ? 0 : 1;
}
