use super::*;
use rand::{Rng, SeedableRng, rngs::StdRng};

/// Tables of a discretized Laplace density with scale `b`, over -range..=range.
fn laplace_tables(channels: usize, b: f64, range: i32) -> (Vec<ChannelTable>, Vec<Vec<f64>>) {
    let mut tables = Vec::new();
    let mut pmfs = Vec::new();
    for c in 0..channels {
        let b = b * (1.0 + c as f64 * 0.5);
        let cdf = |x: f64| {
            if x < 0.0 {
                0.5 * (x / b).exp()
            } else {
                1.0 - 0.5 * (-x / b).exp()
            }
        };
        let pmf: Vec<f64> = (-range..=range)
            .map(|k| cdf(k as f64 + 0.5) - cdf(k as f64 - 0.5))
            .collect();
        let escape = 2.0 * cdf(-(range as f64) - 0.5);
        tables.push(ChannelTable::from_pmf(-range, &pmf, escape).unwrap());
        pmfs.push(pmf);
    }
    (tables, pmfs)
}

fn sample_laplace(rng: &mut StdRng, b: f64) -> i32 {
    let u: f64 = rng.random_range(-0.5..0.5);
    (-b * u.signum() * (1.0 - 2.0 * u.abs()).ln()).round() as i32
}

fn round_trip(coder: &LatentCoder, values: &[i32], plane: usize) -> Vec<u8> {
    let bytes = coder.encode(values, plane).unwrap();
    assert_eq!(coder.decode(&bytes, plane).unwrap(), values);
    bytes
}

#[test]
fn random_latents_round_trip_close_to_the_ideal_size() {
    let mut rng = StdRng::seed_from_u64(7);
    let channels = 8;
    let plane = 4096;
    let (tables, pmfs) = laplace_tables(channels, 0.7, 20);
    let coder = LatentCoder::new(&tables).unwrap();
    let mut values = Vec::new();
    let mut ideal = 0.0;
    for (c, pmf) in pmfs.iter().enumerate().take(channels) {
        let b = 0.7 * (1.0 + c as f64 * 0.5);
        for _ in 0..plane {
            let v = sample_laplace(&mut rng, b).clamp(-20, 20);
            ideal += -pmf[(v + 20) as usize].log2();
            values.push(v);
        }
    }
    let bytes = round_trip(&coder, &values, plane);
    let coded = bytes.len() as f64 * 8.0;
    assert!(
        coded <= ideal * 1.01 + 64.0,
        "coded {coded} bits, ideal {ideal}"
    );
    let table_bits = coder.information_bits(&values, plane).unwrap();
    assert!(
        (table_bits - ideal).abs() / ideal < 0.001,
        "{table_bits} vs {ideal}"
    );
}

#[test]
fn huge_and_extreme_values_round_trip_through_the_escape() {
    let (tables, _) = laplace_tables(3, 1.0, 5);
    let coder = LatentCoder::new(&tables).unwrap();
    let values = vec![
        i32::MIN,
        i32::MAX,
        0,
        -6,
        6,
        5,
        -5,
        1 << 20,
        -(1 << 20),
        1000,
        -1000,
        i32::MIN + 1,
        i32::MAX - 1,
        7,
        -7,
        123_456_789,
        -987_654_321,
        0,
    ];
    round_trip(&coder, &values, 6);
}

#[test]
fn all_zeros_cost_almost_nothing() {
    let (tables, _) = laplace_tables(4, 0.1, 10);
    let coder = LatentCoder::new(&tables).unwrap();
    let values = vec![0; 4 * 10_000];
    let bytes = round_trip(&coder, &values, 10_000);
    let ideal = coder.information_bits(&values, 10_000).unwrap();
    assert!((bytes.len() as f64) * 8.0 <= ideal * 1.01 + 64.0);
}

#[test]
fn one_channel_and_empty_planes() {
    let (tables, _) = laplace_tables(1, 2.0, 30);
    let coder = LatentCoder::new(&tables).unwrap();
    round_trip(&coder, &[3, -40, 41, 0, 0, 29], 6);
    let bytes = round_trip(&coder, &[], 0);
    assert!(bytes.is_empty());
}

#[test]
fn table_edges_and_every_escape_length_round_trip() {
    let (tables, _) = laplace_tables(1, 1.0, 3);
    let coder = LatentCoder::new(&tables).unwrap();
    let mut values: Vec<i32> = (-5..=5).collect();
    for bits in 0..31 {
        values.push(3i32.saturating_add(1 << bits));
        values.push((-3i32).saturating_sub(1 << bits));
    }
    let plane = values.len();
    round_trip(&coder, &values, plane);
}

#[test]
fn wrong_shape_is_an_error() {
    let (tables, _) = laplace_tables(2, 1.0, 3);
    let coder = LatentCoder::new(&tables).unwrap();
    assert!(matches!(
        coder.encode(&[1, 2, 3], 2),
        Err(CodingError::Shape { .. })
    ));
}

#[test]
fn garbage_never_panics() {
    let (tables, _) = laplace_tables(2, 1.0, 3);
    let coder = LatentCoder::new(&tables).unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    for len in 0..200 {
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let _ = coder.decode(&bytes, 50);
    }
    let _ = coder.decode(&[0xff; 64], 1000);
}

#[test]
fn an_indexed_stream_decodes_in_parts() {
    let mut rng = StdRng::seed_from_u64(3);
    let (tables, _) = laplace_tables(4, 1.5, 8);
    let coder = LatentCoder::new(&tables).unwrap();
    let values: Vec<i32> = (0..500).map(|_| sample_laplace(&mut rng, 4.0)).collect();
    let indices: Vec<u8> = (0..500).map(|i| (i * 7 % 4) as u8).collect();
    let bytes = coder.encode_indexed(&values, &indices).unwrap();
    let mut dec = coder.indexed_decoder(&bytes).unwrap();
    let first = dec.decode(&indices[..123]).unwrap();
    let rest = dec.decode(&indices[123..]).unwrap();
    assert_eq!([first, rest].concat(), values);
    // A part naming a table the coder lacks is an error, not a panic.
    let mut dec = coder.indexed_decoder(&bytes).unwrap();
    assert!(matches!(dec.decode(&[9]), Err(CodingError::NoTable(9))));
}
