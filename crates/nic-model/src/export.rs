//! The parameters of a module by name, as plain arrays: for moving weights into another
//! framework (the PyTorch speed comparison loads them into CompressAI's model, so both sides
//! run the same trained network and code the same number of bits).

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// One parameter: its dotted path in the module (e.g. `analysis.convs.0.weight`), shape and
/// values in row-major order, as stored (reparameterized values stay reparameterized).
#[derive(Debug, Clone)]
pub struct NamedTensor {
    pub path: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Every float parameter of `module`, in declaration order.
pub fn named_parameters<M: Module>(module: &M) -> Vec<NamedTensor> {
    let mut v = Collector::default();
    module.visit(&mut v);
    v.out
}

#[derive(Default)]
struct Collector {
    path: Vec<String>,
    out: Vec<NamedTensor>,
}

/// The entropy model's exported names stay those of model format 2 (`prior.…` for a
/// factorized prior, `hyper.…` for a hyperprior; see `legacy.rs`), which the scripts that
/// load them into other frameworks read: the enum's variant takes the place of its field.
fn exported_name(name: &str, container_type: &str) -> Option<&'static str> {
    (container_type == "Enum:EntropyModel").then_some(match name {
        "Factorized" => "prior",
        _ => "hyper",
    })
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        match exported_name(name, container_type) {
            Some(n) => *self.path.last_mut().expect("the enum is a field") = n.to_string(),
            None => self.path.push(name.to_string()),
        }
    }

    fn exit_module(&mut self, name: &str, container_type: &str) {
        match exported_name(name, container_type) {
            Some(_) => *self.path.last_mut().expect("the enum is a field") = "entropy".into(),
            None => drop(self.path.pop()),
        }
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val();
        self.out.push(NamedTensor {
            path: self.path.join("."),
            shape: t.dims().to_vec(),
            values: t
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap_or_default(),
        });
    }
}

/// `values` as a NumPy `.npy` file (format 1.0, little-endian f32), which NumPy and PyTorch
/// read without any other library.
pub fn to_npy(t: &NamedTensor) -> Vec<u8> {
    let shape = match t.shape.as_slice() {
        [n] => format!("({n},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}").into_bytes();
    // Magic (6) + version (2) + length (2) + header, padded with spaces and ending in a newline
    // to a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    for v in &t.values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Architecture, Compressor};
    use burn::tensor::Device;

    #[test]
    fn every_parameter_is_named_once_with_its_shape() {
        let arch = Architecture::TINY;
        let model = Compressor::new(&arch, &Device::flex());
        let params = named_parameters(&model);
        let total: usize = params.iter().map(|p| p.values.len()).sum();
        assert_eq!(total, model.num_params());
        let find = |p: &str| params.iter().find(|t| t.path == p).unwrap();
        assert_eq!(find("analysis.convs.0.weight").shape, [8, 3, 5, 5]);
        assert_eq!(find("synthesis.igdns.2.gamma").shape, [8, 8]);
        assert_eq!(find("prior.matrices.0").shape, [8, 3, 1]);
        let mut paths: Vec<_> = params.iter().map(|p| &p.path).collect();
        paths.dedup();
        assert_eq!(paths.len(), params.len());
    }

    #[test]
    fn npy_header_is_aligned_and_sized() {
        let t = NamedTensor {
            path: "x".into(),
            shape: vec![2, 3],
            values: vec![0.5; 6],
        };
        let bytes = to_npy(&t);
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(bytes.len(), 10 + header_len + 24);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.contains("'shape': (2, 3)") && header.ends_with('\n'));
    }
}
