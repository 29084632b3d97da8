/**
 * The Python side of the double's `openamp` module. MicroPython's openamp is a C module: its
 * errors are OSError / ValueError / TypeError and its arguments are keyword arguments. A JS
 * function called from the WASM interpreter cannot raise a Python exception (a thrown JS error
 * unwinds through the interpreter and breaks it), so the API classes are Python, defined here
 * exactly as docs/library/openamp.rst gives them, over small JS primitives (`js`) that return
 * status strings and never throw. Bytes cross as hex strings.
 *
 * Callbacks: the stm32 port runs them from the scheduler (on the IPI), i.e. while Python code
 * runs or sleeps. Here `_poll` runs them: on every openamp call, and from the worker's tick
 * hook whenever the chip has events pending (time.sleep_ms and ticks_ms read the tick).
 */
export const OPENAMP_PY = String.raw`
def _openamp_module(js, module):
    import time
    # RPMSG_ADDR_ANY (0xFFFFFFFF) as MP_ROM_INT makes it on the 32-bit stm32 port: -1.
    ANY = -1
    state = {'ns': None, 'busy': False}
    eps = {}

    def _check(r):
        if r[0] == 'E':
            raise OSError(int(r[1:]))
        return r

    def _addr(v, what):
        if not isinstance(v, int) or v < -1 or v > 0x7FFFFFFF:
            raise ValueError(what)
        return v

    def _poll():
        if state['busy']:
            return
        state['busy'] = True
        try:
            out = js.poll()
            for line in out.split('\n'):
                if not line:
                    continue
                kind = line[0]
                rest = line[2:]
                if kind == 'M':
                    i, src, data = rest.split(' ')
                    ep = eps.get(int(i))
                    if ep is not None and ep._cb is not None:
                        ep._cb(int(src), bytes.fromhex(data))
                elif kind == 'N':
                    src, name = rest.split(' ', 1)
                    if state['ns'] is not None:
                        state['ns'](int(src), name)
        finally:
            state['busy'] = False

    def new_service_callback(cb):
        state['ns'] = cb
        _poll()

    class Endpoint:
        def __init__(self, name, callback, src=ANY, dest=ANY):
            if not isinstance(name, str):
                raise TypeError('name must be a str')
            self._cb = callback
            self._id = None
            self._id = int(_check(js.create(name, _addr(src, 'src'), _addr(dest, 'dest'))))
            eps[self._id] = self
            _poll()

        def send(self, data, src=-1, dest=-1, timeout=-1):
            if self._id is None:
                raise OSError(9)
            if isinstance(data, str):
                data = data.encode()
            payload = bytes(data).hex()
            src = _addr(src, 'src')
            dest = _addr(dest, 'dest')
            start = time.ticks_ms()
            while True:
                r = js.send(self._id, payload, src, dest)
                if r != 'EAGAIN':
                    break
                if timeout >= 0 and time.ticks_diff(time.ticks_ms(), start) >= timeout:
                    raise OSError(110)
                time.sleep_ms(1)
            _check(r)
            _poll()

        def is_ready(self):
            if self._id is None:
                return False
            _poll()
            return js.ready(self._id) == 'Y'

        def deinit(self):
            if self._id is not None:
                js.deinit(self._id)
                eps.pop(self._id, None)
                self._id = None

    class RemoteProc:
        def __init__(self, entry):
            if isinstance(entry, str):
                self._id = int(_check(js.rproc_file(entry)))
            elif isinstance(entry, int):
                self._id = int(_check(js.rproc_entry(entry)))
            else:
                raise TypeError('entry must be a file path or an address')

        def start(self):
            _check(js.rproc_start(self._id))
            _poll()
            return True

        def stop(self):
            _check(js.rproc_stop(self._id))
            return True

        def shutdown(self):
            _check(js.rproc_stop(self._id))
            return True

    module.ENDPOINT_ADDR_ANY = ANY
    module.new_service_callback = new_service_callback
    module.Endpoint = Endpoint
    module.RemoteProc = RemoteProc
    return _poll
`;
