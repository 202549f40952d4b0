/*
 * A stand-in for Windows' bcryptprimitives.dll, for running the agent under Wine only.
 *
 * Rust's standard library on Windows imports ProcessPrng from bcryptprimitives.dll,
 * which Wine 8 does not provide: without this DLL next to it, estate-agent.exe fails to
 * start (status c0000135). ProcessPrng fills a buffer with random bytes and never fails
 * on Windows; here it forwards to advapi32's SystemFunction036 (RtlGenRandom), which
 * Wine implements. Real Windows has the genuine DLL: this file is test tooling and is
 * never shipped.
 *
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll shim.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x7fffffffu ? 0x7fffffffu : (ULONG)len;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
