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
    let crc_ok = NicFile::parse(&bytes).is_ok();
    let id: String = h.model_id.iter().map(|b| format!("{b:02x}")).collect();
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
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!("format version  {}", h.version);
        println!("model id        {id}");
        println!("size            {}×{}", h.width, h.height);
        println!("quality         {}", h.quality_milli as f64 / 1000.0);
        println!(
            "file            {} bytes ({bpp:.4} bpp), header {} bytes",
            bytes.len(),
            h.header_len
        );
        for (i, s) in h.shapes.iter().enumerate() {
            // A hyperprior model's files carry the side latents first.
            let name = if h.shapes.len() == 2 && i == 0 {
                "side latents   "
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
    Ok(())
}
