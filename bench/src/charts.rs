//! The charts docs/benchmarks.md shows, drawn as PNG with plotters and the
//! DejaVu Sans font (built in, no system fonts needed).

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::flash::{FlashResult, FlashWorkload};
use crate::host::{HostPlan, HostResult};

/// Which charts were drawn, as paths relative to the docs directory.
#[derive(Debug, Default)]
pub struct Drawn {
    pub host_throughput: Option<String>,
    /// (title, path)
    pub flash: Vec<(String, String)>,
}

type DrawResult<T> = Result<T, String>;

/// One figure of a flash result, if it has it.
type Figure = fn(&FlashResult) -> Option<f64>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is a valid TrueType file shipped by the dejavu crate.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

fn color(engine: &str) -> RGBColor {
    match engine {
        "cairn" => RGBColor(214, 69, 45),
        "fjall" => RGBColor(52, 101, 164),
        "redb" => RGBColor(78, 154, 6),
        "sled" => RGBColor(117, 80, 123),
        "rocksdb" => RGBColor(110, 110, 110),
        "sequential-storage" => RGBColor(52, 101, 164),
        "ekv" => RGBColor(78, 154, 6),
        "tickv" => RGBColor(117, 80, 123),
        _ => RGBColor(0, 0, 0),
    }
}

pub fn draw(
    docs: &Path,
    plan: &HostPlan,
    host: &[HostResult],
    flash: &[FlashResult],
    keys: &[usize],
) -> DrawResult<Drawn> {
    register_font();
    let mut drawn = Drawn::default();
    if host.iter().any(|r| r.outcome.is_ok()) {
        let name = "benchmarks-host-throughput.png";
        host_throughput(&docs.join(name), plan, host)?;
        drawn.host_throughput = Some(name.to_string());
    }
    if flash.iter().any(|r| r.completed()) {
        let figures: [(&str, &str, Figure); 3] = [
            (
                "benchmarks-flash-programmed.png",
                "Bytes programmed per user byte",
                |r| Some(r.programmed_per_user_byte()),
            ),
            (
                "benchmarks-flash-erases.png",
                "Erases per 1,000 writes",
                |r| Some(r.erases_per_1000_writes()),
            ),
            (
                "benchmarks-flash-read-per-get.png",
                "Bytes read per get",
                |r| r.read_per_get(),
            ),
        ];
        for (name, title, figure) in figures {
            flash_chart(&docs.join(name), title, flash, keys, figure)?;
            drawn.flash.push((title.to_string(), name.to_string()));
        }
    }
    Ok(drawn)
}

fn host_throughput(path: &Path, plan: &HostPlan, results: &[HostResult]) -> DrawResult<()> {
    let root = BitMapBackend::new(path, (1400, 640)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let ops = |e: &str, w| {
        results
            .iter()
            .find(|r| r.engine == e && r.workload == w)
            .and_then(|r| r.outcome.as_ref().ok())
            .map(|m| m.ops_per_sec())
    };
    let all: Vec<f64> = results
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok().map(|m| m.ops_per_sec()))
        .filter(|v| *v > 0.0)
        .collect();
    let lo = all.iter().copied().fold(f64::INFINITY, f64::min) / 2.0;
    let hi = all.iter().copied().fold(0.0, f64::max) * 2.0;
    let n = plan.workloads.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Operations per second (log scale), --num {}", plan.num),
            (FONT, 26),
        )
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..n as f64, (lo..hi).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_label_formatter(&|v| crate::report::thousands(v.round() as u64))
        .label_style((FONT, 16))
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(err)?;
    let engines = &plan.engines;
    let width = 0.8 / engines.len() as f64;
    for (k, engine) in engines.iter().enumerate() {
        let c = color(engine);
        let bars: Vec<_> = plan
            .workloads
            .iter()
            .enumerate()
            .filter_map(|(i, &w)| {
                ops(engine, w).map(|v| {
                    let x0 = i as f64 + 0.1 + k as f64 * width;
                    Rectangle::new([(x0, lo), (x0 + width * 0.9, v)], c.filled())
                })
            })
            .collect();
        chart
            .draw_series(bars)
            .map_err(err)?
            .label(engine.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 18))
        .draw()
        .map_err(err)?;
    let style = TextStyle::from((FONT, 17).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, w) in plan.workloads.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, lo));
        root.draw(&Text::new(w.name(), (x, y + 8), style.clone()))
            .map_err(err)?;
    }
    root.present().map_err(err)
}

fn flash_chart(
    path: &Path,
    title: &str,
    results: &[FlashResult],
    keys: &[usize],
    figure: Figure,
) -> DrawResult<()> {
    let root = BitMapBackend::new(path, (1500, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let root = root
        .titled(
            &format!("{title} (log scales; zero drawn on the bottom edge)"),
            (FONT, 24),
        )
        .map_err(err)?;
    let panels = root.split_evenly((1, FlashWorkload::ALL.len()));
    let points: Vec<f64> = results
        .iter()
        .filter(|r| r.completed())
        .filter_map(figure)
        .filter(|v| *v > 0.0)
        .collect();
    let lo = points
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .min(1.0)
        / 2.0;
    let hi = points.iter().copied().fold(0.0, f64::max).max(1.0) * 2.0;
    let kmin = keys.iter().copied().min().unwrap_or(10) as f64 / 1.5;
    let kmax = keys.iter().copied().max().unwrap_or(10_000) as f64 * 1.5;
    for (panel, w) in panels.iter().zip(FlashWorkload::ALL) {
        flash_panel(panel, w, results, figure, (kmin, kmax), (lo, hi))?;
    }
    root.present().map_err(err)
}

fn flash_panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    workload: FlashWorkload,
    results: &[FlashResult],
    figure: Figure,
    (kmin, kmax): (f64, f64),
    (lo, hi): (f64, f64),
) -> DrawResult<()> {
    let mut chart = ChartBuilder::on(area)
        .caption(workload.name(), (FONT, 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((kmin..kmax).log_scale(), (lo..hi).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("keys")
        .x_label_formatter(&|v| crate::report::thousands(v.round() as u64))
        .y_label_formatter(&|v| {
            if *v >= 1.0 {
                crate::report::thousands(v.round() as u64)
            } else {
                format!("{v:.2}")
            }
        })
        .label_style((FONT, 14))
        .light_line_style(TRANSPARENT)
        .draw()
        .map_err(err)?;
    let mut engines: Vec<&str> = Vec::new();
    for r in results {
        if !engines.contains(&r.engine.as_str()) {
            engines.push(&r.engine);
        }
    }
    for engine in engines {
        let c = color(engine);
        let mut series: Vec<(f64, f64)> = results
            .iter()
            .filter(|r| r.engine == engine && r.workload == workload && r.completed())
            .filter_map(|r| figure(r).map(|v| (r.keys as f64, v.max(lo))))
            .collect();
        series.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(series.clone(), c.stroke_width(2)))
            .map_err(err)?
            .label(engine)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
        chart
            .draw_series(series.into_iter().map(|p| Circle::new(p, 4, c.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()
        .map_err(err)
}
