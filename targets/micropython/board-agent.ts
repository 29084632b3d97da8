/**
 * farm_agent.py: the farm's helper module on a MicroPython OpenAMP host, copied to the board's
 * filesystem (only when its hash differs) and imported once per connection. It uses only
 * MicroPython's documented openamp API (docs/library/openamp.rst) and keeps the state of one
 * boot of the remote: announcements, endpoints, queued messages. Each of the farm's steps is one
 * short raw-REPL exec calling a function here, which prints one result frame:
 *
 *   FARM1 <payload length> <crc32 of the payload, 8 hex digits> <payload: JSON>
 *
 * bytes as hex strings. The farm checks length and CRC and makes every byte-level verdict
 * itself: the agent never compares anything. Waits sleep in 1 ms steps, so the port's
 * scheduler runs the openamp callbacks (and Ctrl-C breaks them), and end at their deadline.
 */
export const AGENT_MODULE = 'farm_agent';

export const AGENT_SOURCE = String.raw`# farm_agent: the openamp-farm helper (see targets/micropython/board-agent.ts). Generated; do not edit.
import openamp, time, json, binascii

ANY = openamp.ENDPOINT_ADDR_ANY
_ns = []
_events = []
_eps = {}
_next = [1]
_rproc = [None]


def _on_ns(src, name):
    _ns.append([name, src])
    _events.append(['create', name, src])


def init():
    openamp.new_service_callback(_on_ns)
    _frame({'ok': 1})


def _watch():
    # MicroPython reports no NS DESTROY: open-amp unbinds the endpoint talking to a destroyed
    # channel, so a bound endpoint that stops being ready means its channel went away.
    for i in _eps:
        e = _eps[i]
        if e[3] and not e[0].is_ready():
            e[3] = False
            if e[4] is not None:
                for c in _ns:
                    if c[0] == e[2] and c[1] == e[4]:
                        _ns.remove(c)
                        _events.append(['destroy', e[2], e[4]])
                        break


def _frame(obj):
    _watch()
    obj['ev'] = _events[:]
    del _events[:]
    p = json.dumps(obj)
    print('FARM1 %d %08x %s' % (len(p), binascii.crc32(p.encode()) & 0xFFFFFFFF, p))


def _wait(cond, timeout_ms):
    t0 = time.ticks_ms()
    while not cond():
        if time.ticks_diff(time.ticks_ms(), t0) >= timeout_ms:
            return False
        time.sleep_ms(1)
    return True


def start(entry):
    del _ns[:]
    _rproc[0] = openamp.RemoteProc(entry)
    _rproc[0].start()
    _frame({'ok': 1})


def stop():
    # On the STM32H747 this resets the whole chip: no frame comes back.
    r = _rproc[0]
    if r is None:
        r = openamp.RemoteProc(0)
    r.stop()
    _frame({'ok': 1})


def poll():
    _frame({'ok': 1})


def channels():
    _frame({'channels': _ns})


def wait_channel(name, timeout_ms):
    def found():
        for c in _ns:
            if c[0] == name:
                return True
        return False
    _wait(found, timeout_ms)
    for c in _ns:
        if c[0] == name:
            _frame({'channel': c})
            return
    _frame({'timeout': 1, 'channels': _ns})


def open_ep(name, src, dest):
    i = _next[0]
    _next[0] += 1
    q = []

    def cb(s, data):
        q.append([s, binascii.hexlify(data).decode()])

    e = openamp.Endpoint(name, cb, src=src, dest=dest)
    _eps[i] = [e, q, name, e.is_ready(), None if dest == ANY else dest]
    _frame({'id': i, 'ready': _eps[i][3]})


def send(i, data, dest, timeout_ms):
    e = _eps[i]
    e[0].send(binascii.unhexlify(data), dest=dest, timeout=timeout_ms)
    _frame({'ok': 1})


def recv(i, timeout_ms):
    e = _eps[i]
    if _wait(lambda: len(e[1]) > 0, timeout_ms):
        m = e[1].pop(0)
        if e[4] is None:
            e[4] = m[0]
            e[3] = True
        _frame({'src': m[0], 'data': m[1]})
    else:
        _frame({'timeout': 1})


def fault(name, addr, word):
    # The reference firmware's fault words (openamp/remote/control-words.ts), on a throwaway endpoint.
    e = openamp.Endpoint(name, lambda s, d: None, dest=addr)
    try:
        e.send(binascii.unhexlify(word), timeout=2000)
    finally:
        e.deinit()
    _frame({'ok': 1})


def probe(name, addr, stall_ms, total_ms):
    # Pings addr until a ping goes unanswered for stall_ms (the remote crashed or hangs).
    q = []
    t0 = time.ticks_ms()
    try:
        e = openamp.Endpoint(name, lambda s, d: q.append(s), dest=addr)
    except OSError as x:
        _frame({'stalled': 'the remote cannot be reached (%r)' % (x,)})
        return
    try:
        while time.ticks_diff(time.ticks_ms(), t0) < total_ms:
            del q[:]
            try:
                e.send(bytes(148), timeout=stall_ms)
            except OSError as x:
                _frame({'stalled': 'a ping could not be sent within %d ms (%r)' % (stall_ms, x)})
                return
            if not _wait(lambda: len(q) > 0, stall_ms):
                _frame({'stalled': 'a ping went unanswered for %d ms' % stall_ms})
                return
            time.sleep_ms(100)
        _frame({'timeout': 1})
    finally:
        e.deinit()


def close(i):
    e = _eps.pop(i, None)
    if e is not None:
        e[0].deinit()
    _frame({'ok': 1})
`;
