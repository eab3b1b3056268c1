// extsecretd entry point: wiring only (see daemon/cli/ for the commands).
#include <cstdio>
int main() { std::puts("extsecretd"); return 0; }
