use std::path::PathBuf;

use anyhow::{Context, Result};
use nic_format::{Header, NicFile};

#[derive(clap::Args)]
pub struct Args {
    /// The .nic file.
    input: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> Result<()> {
    let bytes = super::read_file(&a.input)?;
    let (h, _) = Header::parse(&bytes).with_context(|| a.input.display().to_string())?;
    // The header is shown even when the rest is damaged; the status then says it is.
    let parsed = NicFile::parse(&bytes).map(|_| ());
    let crc_ok = parsed.is_ok();
    let id = nic_model::id_hex(&h.model_id);
    let bpp = nic_metrics::bpp(bytes.len(), h.width, h.height);
    if a.json {
        let latents: Vec<_> = h
            .shapes
            .iter()
            .map(|s| serde_json::json!({"channels": s.channels, "height": s.height, "width": s.width, "bytes": s.payload_len}))
            .collect();
        let v = serde_json::json!({
            "version": h.version, "model_id": id, "width": h.width, "height": h.height,
            "quality": h.quality_milli as f64 / 1000.0, "file_bytes": bytes.len(), "header_bytes": h.header_len,
            "bpp": bpp, "crc_ok": crc_ok, "latents": latents,
            "grayscale": h.metadata.grayscale,
            "means": h.means,
            "context": h.context,
            "exif_bytes": h.metadata.exif.as_ref().map(Vec::len),
            "icc_bytes": h.metadata.icc.as_ref().map(Vec::len),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("format version  {}", h.version);
        println!("model id        {id}");
        println!("size            {}×{}", h.width, h.height);
        println!("quality         {}", h.quality_milli as f64 / 1000.0);
        let m = &h.metadata;
        let mut carried = Vec::new();
        if m.grayscale {
            carried.push("grayscale".to_string());
        }
        for (name, block) in [("EXIF", &m.exif), ("ICC profile", &m.icc)] {
            if let Some(b) = block {
                carried.push(format!("{name} {} bytes", b.len()));
            }
        }
        if !carried.is_empty() {
            println!("picture         {}", carried.join(", "));
        }
        println!(
            "file            {} bytes ({bpp:.4} bpp), header {} bytes",
            bytes.len(),
            h.header_len
        );
        for (i, s) in h.shapes.iter().enumerate() {
            // A hyperprior model's files carry the side latents first.
            let name = if h.shapes.len() == 2 && i == 0 {
                "side latents   "
            } else if h.context {
                "latents − μ, ⊞ "
            } else if h.means {
                "latents − μ    "
            } else {
                "latents        "
            };
            println!(
                "{name} {}×{}×{}, {} bytes",
                s.channels, s.height, s.width, s.payload_len
            );
        }
        println!(
            "crc             {}",
            if crc_ok {
                "ok"
            } else {
                "MISMATCH (file is corrupt)"
            }
        );
    }
    parsed.with_context(|| a.input.display().to_string())
}
