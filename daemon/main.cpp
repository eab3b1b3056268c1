// extsecretd entry point: wiring only; the commands live in daemon/cli/.
#include "daemon/cli/cli.h"

int main(int argc, char** argv) { return esd::cli::main(argc, argv); }
