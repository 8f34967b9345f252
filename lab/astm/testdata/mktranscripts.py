#!/usr/bin/env python3
"""Writes the ASTM transcripts in testdata/transcripts/*.txtar.

This generator is deliberately independent of the Go code under test: it
frames records and computes E1381 checksums on its own, so that the Go link
layer is checked against checksums it did not compute. The Go tests write
the *.golden files (go test ./lab/astm -run TestTranscripts -update).

Run from lab/astm:  python3 testdata/mktranscripts.py
"""
import os

NAMES = {0x02: 'STX', 0x03: 'ETX', 0x04: 'EOT', 0x05: 'ENQ', 0x06: 'ACK',
         0x0A: 'LF', 0x0D: 'CR', 0x15: 'NAK', 0x17: 'ETB'}


def note(b):
    out = ''
    for c in b:
        if c in NAMES:
            out += '<%s>' % NAMES[c]
        elif c < 0x20 or c >= 0x7F:
            out += '<x%02X>' % c
        else:
            out += chr(c)
    return out


def texts(records, packing, maxtext, enc):
    recs = [r.encode(enc) for r in records]
    out = []

    def cut(t, last):
        while len(t) > maxtext:
            out.append((t[:maxtext], False))
            t = t[maxtext:]
        out.append((t, last))
    if packing == 'record-per-message':
        for r in recs:
            cut(r + b'\r', True)
    elif packing == 'record-per-frame':
        for i, r in enumerate(recs):
            cut(r + b'\r', i == len(recs) - 1)
    elif packing == 'whole-message':
        cut(b''.join(r + b'\r' for r in recs), True)
    else:
        raise ValueError(packing)
    return out


def frames(records, packing='record-per-message', maxtext=240, fn=True, cs=True,
           trailer=True, enc='latin-1'):
    out = []
    n = 1
    for t, last in texts(records, packing, maxtext, enc):
        body = (bytes([0x30 + n]) if fn else b'') + t + (b'\x03' if last else b'\x17')
        f = b'\x02' + body
        if cs:
            f += ('%02X' % (sum(body) % 256)).encode()
        if trailer:
            f += b'\r\n'
        out.append(f)
        n = (n + 1) % 8
    return out


def transfer(records, side='I', **kw):
    other = 'H' if side == 'I' else 'I'
    lines = ['%s: <ENQ>' % side, '%s: <ACK>' % other]
    for f in frames(records, **kw):
        lines += ['%s: %s' % (side, note(f)), '%s: <ACK>' % other]
    lines.append('%s: <EOT>' % side)
    return lines


# Every transcript header has device=, firmware= and baud=
# (firmware-notes/transcripts.md). These sessions are synthetic and the tests
# play them over in-memory pipes, so baud= records the line they stand for:
# 9600 baud, the typical analyser setting (shared/domain/analysers.md).
BAUD = '9600'


def write(name, headers, session, files=()):
    keys = [k for k, _ in headers]
    assert keys[:2] == ['device', 'firmware'] and 'baud' not in keys, name
    headers = headers[:2] + [('baud', BAUD)] + headers[2:]
    parts = ['%s=%s' % kv for kv in headers]
    parts.append('-- session --')
    parts += session
    for fname, data in files:
        parts.append('-- %s --' % fname)
        parts.append(data.rstrip('\n'))
    path = os.path.join('testdata', 'transcripts', name + '.txtar')
    with open(path, 'w', encoding='utf-8', newline='\n') as f:
        f.write('\n'.join(parts) + '\n')


DOMAIN = [
    'H|\\^&|||EdgeSim^1.0|||||||P|LIS2-A2|20240612103000',
    'P|1||CASE-0001',
    'O|1|S240612-0001||^^^BENZ\\^^^GHB|R||||||N||||URINE',
    'R|1|^^^GHB|42.0|mg/L|0-10|H||F||||20240612102900',
    'L|1|N',
]
CODES = 'testcode v1\nGHB ghb mg/L\nBENZ benzodiazepines\nTHC thc-cooh ng/mL\n'

# 1. The example session of the domain notes, verbatim.
write('lis2a2-domain', [
    ('device', 'EdgeSim 1.0'), ('firmware', 'n/a'), ('dialect', 'lis2a2'),
    ('source', 'shared/domain/analysers.md example session; checksums recomputed, all as given'),
], transfer(DOMAIN), [('codes', CODES)])

# 2. Host query answered with orders.
QUERY = [
    'H|\\^&|||EdgeSim^1.0|||||||P|LIS2-A2|20240612103000',
    'Q|1|^S240612-0001||^^^ALL||||||||O',
    'L|1|N',
]
REPLY = [
    'H|\\^&|||Exhibit^1.0|||||||P|LIS2-A2|20240612103000',
    'P|1||CASE-0001',
    'O|1|S240612-0001||^^^BENZ\\^^^GHB|R||||||N||||URINE||||||||||Q',
    'L|1|F',
]
write('lis2a2-query', [
    ('device', 'EdgeSim 1.0'), ('firmware', 'n/a'), ('dialect', 'lis2a2'),
    ('source', 'synthetic: LIS2-A2 host query (Q-3 component 2 = specimen id) answered with orders'),
    ('sender', 'Exhibit^1.0'), ('clock', '2024-06-12T10:30:00Z'),
], transfer(QUERY) + transfer(REPLY, side='H'),
    [('orders', 'CASE-0001 S240612-0001 URINE BENZ GHB\n')])

# 2b. Orders downloaded: the host sends orders unasked (report type O, L-3 N);
#     the instrument only acknowledges. GeneXpert too, for its @ repeat
#     delimiter between the test ids.
DOWNLOAD = [
    'H|\\^&|||Exhibit^1.0|||||||P|LIS2-A2|20240612103000',
    'P|1||CASE-0001',
    'O|1|S240612-0001||^^^BENZ\\^^^GHB|R||||||N||||URINE||||||||||O',
    'O|2|S240612-0002||^^^THC|R||||||N||||URINE||||||||||O',
    'L|1|N',
]
write('lis2a2-download', [
    ('device', 'EdgeSim 1.0'), ('firmware', 'n/a'), ('dialect', 'lis2a2'),
    ('source', 'synthetic: LIS2-A2 order download, host to instrument (firmware-notes/astm-lis2a2.md, Orders)'),
    ('sender', 'Exhibit^1.0'), ('clock', '2024-06-12T10:30:00Z'), ('send', 'download'), ('replay', 'host-only'),
], transfer(DOWNLOAD, side='H'),
    [('orders', 'CASE-0001 S240612-0001 URINE BENZ GHB\nCASE-0001 S240612-0002 URINE THC\n')])
write('genexpert-download', [
    ('device', 'GeneXpert (synthetic)'), ('firmware', 'n/a'), ('dialect', 'genexpert'),
    ('source', 'synthetic: order download in the GeneXpert dialect (delimiters |@^\\)'),
    ('sender', 'Exhibit^1.0'), ('clock', '2024-06-12T10:30:00Z'), ('send', 'download'), ('replay', 'host-only'),
], transfer([r.replace('|\\^&', '|@^\\', 1).replace('\\^^^', '@^^^') for r in DOWNLOAD], side='H'),
    [('orders', 'CASE-0001 S240612-0001 URINE BENZ GHB\nCASE-0001 S240612-0002 URINE THC\n')])

# 2c. Contention: the host's download and the instrument's results bid for
#     the line together. The instrument wins; the host gives way, takes the
#     results (ENQ answered after the instrument's contention pause), and
#     sends its orders once the instrument's EOT has freed the line.
session = ['H: <ENQ>', 'I: <ENQ>'] + transfer(DOMAIN) + transfer(DOWNLOAD, side='H')
write('lis2a2-download-contention', [
    ('device', 'EdgeSim 1.0'), ('firmware', 'n/a'), ('dialect', 'lis2a2'),
    ('source', 'synthetic: order download colliding with results (E1381 contention, host yields)'),
    ('sender', 'Exhibit^1.0'), ('clock', '2024-06-12T10:30:00Z'), ('send', 'download'), ('replay', 'host-only'),
], session,
    [('orders', 'CASE-0001 S240612-0001 URINE BENZ GHB\nCASE-0001 S240612-0002 URINE THC\n'), ('codes', CODES)])

# 3. Error paths: a checksum error (NAK, then the retransmission), our ACK
#    lost (the sender repeats the frame: acknowledged, not kept twice), line
#    noise before the first frame.
f = frames(DOMAIN)
bad = bytearray(f[0])
bad[-4:-2] = b'FE'  # checksum FF changed to FE
sess = ['I: <ENQ>', 'H: <ACK>', 'I: <x00>', 'I: ' + note(bytes(bad)), 'H: <NAK>',
        'I: ' + note(f[0]), 'H: <ACK>', 'I: ' + note(f[0]), 'H: <ACK>']
for fr in f[1:]:
    sess += ['I: ' + note(fr), 'H: <ACK>']
sess.append('I: <EOT>')
write('lis2a2-errors', [
    ('device', 'EdgeSim 1.0'), ('firmware', 'n/a'), ('dialect', 'lis2a2'),
    ('source', 'synthetic: checksum error, duplicate frame, noise'),
    ('replay', 'host-only'),
], sess, [('codes', CODES)])

# 4. A malformed record and a transfer cut short: both quarantined, never dropped.
MALFORMED = [
    'H|\\^&|||EdgeSim^1.0|||||||P|LIS2-A2|20240612103000',
    'P|1||CASE-0001',
    'O|1|S240612-0001||^^^GHB|R',
    'R|1|^^^GHB|4&X&2|mg/L||||F',
    'L|1|N',
]
cut = frames(DOMAIN[:3])
write('lis2a2-quarantine', [
    ('device', 'EdgeSim 1.0'), ('firmware', 'n/a'), ('dialect', 'lis2a2'),
    ('source', 'synthetic: bad escape sequence (quarantined, still acknowledged), then EOT before the L record'),
    ('replay', 'host-only'),
], transfer(MALFORMED) + ['I: <ENQ>', 'H: <ACK>'] + sum([['I: ' + note(x), 'H: <ACK>'] for x in cut], []) + ['I: <EOT>'])

# 5. Roche cobas c111: every record in its own frame ending CR ETB, the last
#    ending ETX; with seven records the L record is frame 7, which reproduces
#    the captured frame <STX>7L|1|N<CR><ETX>0A<CR><LF>.
C111 = [
    'H|\\^&|||c111|||||||P|1|20240612103000',
    'P|1||CASE-0002',
    'O|1|S240612-0002||^^^GHB\\^^^ETG|R||||||N||||URINE',
    'R|1|^^^GHB|<5.0|mg/L|0-10|N||F||||20240612102900',
    'R|2|^^^ETG|1.2|mg/L||H||F||||20240612102900',
    'C|1|I|QC OK|G',
    'L|1|N',
]
write('cobas-c111-results', [
    ('device', 'Roche cobas c111'), ('firmware', 'unknown'), ('dialect', 'cobas-c111'),
    ('source', 'synthetic records; packing and the final frame from the c111 capture in shared/domain/analysers.md'),
], transfer(C111, packing='record-per-frame'), [('codes', CODES)])

# 6. Beckman AU: STX text ETX, no frame number, no checksum.
AU = [
    'H|\\^&|||AU680|||||||P|1|20240612103000',
    'P|1||CASE-0003',
    'O|1|S240612-0003||^^^BENZ|R',
    'R|1|^^^BENZ|>300|ng/mL|0-200|H||F',
    'L|1|N',
]
write('beckman-au-results', [
    ('device', 'Beckman Coulter AU680'), ('firmware', 'unknown'), ('dialect', 'beckman-au'),
    ('source', 'synthetic; framing from shared/domain/analysers.md'),
], transfer(AU, fn=False, cs=False, trailer=False), [('codes', CODES)])

# 7. GeneXpert: H|@^\ (repeat @, component ^, escape \).
GX = [
    'H|@^\\|||Cepheid^GeneXpert^6.4|||||||P|1394-97|20240612103000',
    'P|1||CASE-0004',
    'O|1|S240612-0004||^^^MTB@^^^RIF|R',
    'R|1|^^^MTB|NOT DETECTED|||N||F',
    'C|1|I|see report\\F\\ 7|G',
    'R|2|^^^RIF|NOT DETECTED|||N||F',
    'L|1|N',
]
write('genexpert-results', [
    ('device', 'Cepheid GeneXpert'), ('firmware', 'unknown'), ('dialect', 'genexpert'),
    ('source', 'synthetic; delimiters from shared/domain/analysers.md'),
], transfer(GX), [('codes', CODES)])

# 8. Yumizen: H|\\^& (a four-character declaration).
YZ = [
    'H|\\\\^&|||YUMIZEN H500^2.1|||||||P|LIS2-A2|20240612103000',
    'P|1||CASE-0005',
    'O|1|S240612-0005||^^^WBC\\^^^HGB|R',
    'R|1|^^^WBC|7.20|10&S&3/uL|4.00-10.00|N||F',
    'R|2|^^^HGB|13.1|g/dL|12.0-16.0|N||F',
    'L|1|N',
]
write('yumizen-results', [
    ('device', 'HORIBA Yumizen H500'), ('firmware', 'unknown'), ('dialect', 'yumizen'),
    ('source', 'synthetic; header declaration from shared/domain/analysers.md'),
], transfer(YZ))

# 9. SELECTRA: H|\!~ (repeat \, component !, escape ~).
SEL = [
    'H|\\!~|||SELECTRA|||||||P|1|20240612103000',
    'P|1||CASE-0006',
    'O|1|S240612-0006||!!!GLU\\!!!CREA|R',
    'R|1|!!!GLU|5.4|mmol/L|3.9-6.1|N||F',
    'R|2|!!!CREA|<18|umol/L|45-90|L||F',
    'L|1|N',
]
write('selectra-results', [
    ('device', 'ELITech SELECTRA'), ('firmware', 'unknown'), ('dialect', 'selectra'),
    ('source', 'synthetic; delimiters from shared/domain/analysers.md'),
], transfer(SEL))

# 10. A dialect given as data in the archive: Windows-1252 text, decimal
#     commas, and the whole message packed into 60-byte frames, so records
#     share frames and straddle them.
EU = [
    'H|\\^&|||EUSIM|||||||P|1|20240612103000',
    'P|1||CASE-0007||M\u00fcller^J\u00fcrgen',
    'O|1|S240612-0007||^^^GLU\\^^^ALC|R',
    'R|1|^^^GLU|7,41|mmol/L|3,9-6,1|H||F',
    'R|2|^^^ALC|<0,10|g/L||N||F',
    'C|1|I|Geb\u00fchr \u20ac 5|G',
    'L|1|N',
]
DIALECT = '''astm-dialect v1
name eu-packed
description test dialect: Windows-1252, decimal comma, whole message in 60-byte frames
source lab/astm/testdata/mktranscripts.py
max-text 60
packing whole-message
charset windows-1252
decimal-mark ,
'''
write('eu-packed-results', [
    ('device', 'simulated European analyser'), ('firmware', 'n/a'), ('dialect', 'eu-packed (in this archive)'),
    ('source', 'synthetic: decimal commas, censored value, Windows-1252 text, several records per frame'),
], transfer(EU, packing='whole-message', maxtext=60, enc='cp1252'), [('dialect', DIALECT), ('codes', CODES)])
