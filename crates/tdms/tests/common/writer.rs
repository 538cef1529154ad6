//! A minimal TDMS byte builder for tests that must not depend on Python.
#![allow(dead_code)]

pub const META: u32 = 1 << 1;
pub const NEW_OBJ_LIST: u32 = 1 << 2;
pub const RAW: u32 = 1 << 3;
pub const INTERLEAVED: u32 = 1 << 5;
pub const BIG: u32 = 1 << 6;
pub const DAQMX: u32 = 1 << 7;

/// Byte order helper.
#[derive(Clone, Copy)]
pub struct E(pub bool);

impl E {
    pub fn u32(self, v: u32) -> [u8; 4] {
        if self.0 {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    pub fn u64(self, v: u64) -> [u8; 8] {
        if self.0 {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
}

/// Builder for one segment's metadata.
pub struct Meta {
    pub e: E,
    pub bytes: Vec<u8>,
    pub count: u32,
}

impl Meta {
    pub fn new(big: bool) -> Meta {
        Meta {
            e: E(big),
            bytes: Vec::new(),
            count: 0,
        }
    }

    fn string(&mut self, s: &str) {
        self.bytes.extend(self.e.u32(s.len() as u32));
        self.bytes.extend(s.as_bytes());
    }

    /// Object with a standard raw data index (`type_code`, `n` values per chunk).
    pub fn object(
        &mut self,
        path: &str,
        type_code: u32,
        n: u64,
        props: &[(&str, u32, Vec<u8>)],
    ) -> &mut Self {
        self.count += 1;
        self.string(path);
        self.bytes.extend(self.e.u32(20));
        self.bytes.extend(self.e.u32(type_code));
        self.bytes.extend(self.e.u32(1));
        self.bytes.extend(self.e.u64(n));
        self.props(props);
        self
    }

    /// Object with a raw data index header only (0xFFFFFFFF or 0).
    pub fn object_header(
        &mut self,
        path: &str,
        header: u32,
        props: &[(&str, u32, Vec<u8>)],
    ) -> &mut Self {
        self.count += 1;
        self.string(path);
        self.bytes.extend(self.e.u32(header));
        self.props(props);
        self
    }

    fn props(&mut self, props: &[(&str, u32, Vec<u8>)]) {
        self.bytes.extend(self.e.u32(props.len() as u32));
        for (name, code, value) in props {
            self.string(name);
            self.bytes.extend(self.e.u32(*code));
            self.bytes.extend(value);
        }
    }

    pub fn finish(&self) -> Vec<u8> {
        let mut out = self.e.u32(self.count).to_vec();
        out.extend(&self.bytes);
        out
    }
}

/// One segment: lead-in + metadata + data. `next` overrides the next-segment offset.
pub fn segment(toc: u32, meta: &[u8], data: &[u8], next: Option<u64>) -> Vec<u8> {
    let e = E(toc & BIG != 0);
    let mut out = b"TDSm".to_vec();
    out.extend(toc.to_le_bytes());
    out.extend(e.u32(4713));
    out.extend(e.u64(next.unwrap_or((meta.len() + data.len()) as u64)));
    out.extend(e.u64(meta.len() as u64));
    out.extend(meta);
    out.extend(data);
    out
}

/// A small valid file with several layouts, used as a mutation seed.
pub fn sample_file() -> Vec<u8> {
    let mut m = Meta::new(false);
    m.object_header(
        "/",
        0xFFFF_FFFF,
        &[(
            "name",
            0x20,
            [4u32.to_le_bytes().to_vec(), b"file".to_vec()].concat(),
        )],
    );
    m.object(
        "/'g'/'a'",
        3,
        2,
        &[("wf_increment", 10, 0.5f64.to_le_bytes().to_vec())],
    );
    m.object("/'g'/'b'", 10, 2, &[]);
    let mut data = Vec::new();
    for v in [1i32, 2] {
        data.extend(v.to_le_bytes());
    }
    for v in [0.5f64, 1.5] {
        data.extend(v.to_le_bytes());
    }
    let mut f = segment(META | RAW | NEW_OBJ_LIST, &m.finish(), &data, None);
    f.extend(segment(RAW, &[], &data, None));
    let mut m2 = Meta::new(false);
    m2.object("/'g'/'s'", 0x20, 0, &[]);
    let mut m3 = Meta::new(true);
    m3.object("/'g'/'c'", 2, 3, &[]);
    let mut be = Vec::new();
    for v in [7i16, -8, 9] {
        be.extend(v.to_be_bytes());
    }
    f.extend(segment(
        META | RAW | NEW_OBJ_LIST | BIG | INTERLEAVED,
        &m3.finish(),
        &be,
        None,
    ));
    f
}
