/*
 * bcryptprimitives.dll for Wine 8, which lacks ProcessPrng.
 *
 * Go 1.22+ draws all its randomness on Windows from ProcessPrng in
 * bcryptprimitives.dll and aborts at start-up when the export is missing, so
 * cross-compiled tests cannot run under Debian 12's Wine without this shim.
 * RtlGenRandom (advapi32's SystemFunction036) is the documented-by-practice
 * CSPRNG entry point Wine does implement. It takes a ULONG length, so large
 * requests are filled in chunks.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
