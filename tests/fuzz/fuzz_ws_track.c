/* libFuzzer target for ws_track: feeding a stream in arbitrary pieces must give the same frame
 * count, loss flag and distance to the boundary as feeding it whole. */
#include "ws/ws_track.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 17 + 1; /* the first byte chooses the piece size */
    data++;
    size--;
    struct ws_track whole = { 0 }, pieces = { 0 };
    ws_track_feed(&whole, data, size);
    for (size_t off = 0; off < size; off += step)
        ws_track_feed(&pieces, data + off, size - off < step ? size - off : step);
    if (whole.frames != pieces.frames || whole.lost != pieces.lost ||
        (!whole.lost && ws_track_to_boundary(&whole) != ws_track_to_boundary(&pieces)))
        abort();
    return 0;
}
