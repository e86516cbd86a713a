//! The two chart shapes of the HTML report, drawn with plotters' SVG backend.
//!
//! Plotters' SVG backend needs no font files: without its `ttf` feature it estimates text
//! widths from the character count and writes `<text>` elements that the browser lays out
//! with its own fonts. Coordinates are integers, so the output is deterministic (snapshots).
//! A suppressed value is never drawn: its row or column shows a dash or the reason instead.

use std::fmt::Display;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::export::ExportError;

/// How one chart is laid out. Every chart is drawn twice, wide for screens from about
/// 52rem and narrow for phones, and the page's CSS shows one of them: a single drawing
/// scaled to a phone's 350 px would shrink its 13–15 px labels to about 6 px.
#[derive(Clone, Copy)]
struct Layout {
    /// Width in SVG units (≈ CSS px at the width it is shown at).
    w: u32,
    /// Width of the row labels on the left of a row chart (wide only).
    label_w: u32,
    /// Width of the value column on the right of a row chart (wide only).
    value_w: u32,
    /// Height of one row.
    row_h: u32,
    /// Row label and value on a line of their own above the bar (narrow).
    stacked: bool,
    /// The CSS class that picks the variant (`svg.wide`, `svg.narrow`).
    class: &'static str,
}

/// Laptop and desktop: labels left, bars in the middle, values right.
const WIDE: Layout = Layout {
    w: 760,
    label_w: 220,
    value_w: 150,
    row_h: 30,
    stacked: false,
    class: "wide",
};

/// Phones (shown at most 30rem wide, so at 340–480 px): label and value above each bar.
const NARROW: Layout = Layout {
    w: 340,
    label_w: 16,
    value_w: 24,
    row_h: 50,
    stacked: true,
    class: "narrow",
};

/// Height of a row of the wide layout and of a group heading.
const ROW_H: u32 = 30;
const GROUP_H: u32 = 24;
/// Space above the plot for band labels (first line) and reference-line labels (second
/// line, so they cannot overlap), and below it for the axis.
const TOP: u32 = 44;
const AXIS_H: u32 = 30;

/// Plotters' SVG backend writes `font-size` as the given size / 1.24; the sizes below give
/// 13–15 px text at the chart's natural width.
const FONT: &str = "sans-serif";
const INK: RGBColor = RGBColor(33, 37, 41);
const MUTED: RGBColor = RGBColor(95, 99, 104);
const GRID: RGBColor = RGBColor(206, 212, 218);

fn chart_err(e: impl Display) -> ExportError {
    ExportError::Chart(e.to_string())
}

/// A coloured range of the value axis (acceptability, UEQ bands), labelled above the plot.
pub(crate) struct Band {
    /// From.
    pub lo: f64,
    /// To.
    pub hi: f64,
    /// Fill (light).
    pub color: RGBColor,
    /// Label above the plot.
    pub label: String,
}

/// A labelled vertical line (a norm such as the SUS average of 68).
pub(crate) struct RefLine {
    /// Where.
    pub x: f64,
    /// Label above the plot.
    pub label: String,
}

/// The value axis of a row chart.
pub(crate) struct Axis {
    /// Smallest value shown.
    pub min: f64,
    /// Largest value shown.
    pub max: f64,
    /// Where bars start (the scale's minimum, or 0 on scales around 0).
    pub base: f64,
    /// Tick labels (value, text).
    pub ticks: Vec<(f64, String)>,
    /// Interpretation bands behind the bars.
    pub bands: Vec<Band>,
    /// Reference lines.
    pub refs: Vec<RefLine>,
}

/// One row: a bar with its interval, or the reason it is withheld.
pub(crate) enum RowValue {
    /// A published value.
    Shown {
        /// The bar's end.
        value: f64,
        /// The 95 % interval, drawn as a whisker.
        ci: Option<(f64, f64)>,
        /// What the value column says (value and n).
        text: String,
    },
    /// Withheld: the text says why; nothing is drawn.
    Suppressed(String),
}

/// A row of a row chart.
pub(crate) struct Row {
    /// Label on the left.
    pub label: String,
    /// The value.
    pub value: RowValue,
    /// Bar colour.
    pub color: RGBColor,
}

/// Rows under an optional heading (a round, a system).
pub(crate) struct Group {
    /// Heading above the rows.
    pub title: Option<String>,
    /// The rows.
    pub rows: Vec<Row>,
}

enum Slot<'a> {
    Heading(&'a str),
    Row(&'a Row),
}

/// Whether any row of `groups` has a value to draw.
pub(crate) fn any_shown(groups: &[Group]) -> bool {
    groups
        .iter()
        .flat_map(|g| &g.rows)
        .any(|r| matches!(r.value, RowValue::Shown { .. }))
}

/// Horizontal bars with 95 % whiskers, one per row, grouped, against `axis`: the wide and
/// the narrow drawing, one after the other.
pub(crate) fn rows(groups: &[Group], axis: &Axis, aria: &str) -> Result<String, ExportError> {
    Ok(rows_at(groups, axis, aria, WIDE)? + &rows_at(groups, axis, aria, NARROW)?)
}

fn rows_at(groups: &[Group], axis: &Axis, aria: &str, l: Layout) -> Result<String, ExportError> {
    let (w, label_w, value_w) = (l.w, l.label_w, l.value_w);
    let mut slots = Vec::new();
    for g in groups {
        if let Some(t) = &g.title {
            slots.push(Slot::Heading(t));
        }
        slots.extend(g.rows.iter().map(Slot::Row));
    }
    let heights: Vec<u32> = slots
        .iter()
        .map(|s| match s {
            Slot::Heading(_) => GROUP_H,
            Slot::Row(_) => l.row_h,
        })
        .collect();
    let plot_h: u32 = heights.iter().sum::<u32>().max(ROW_H);
    let h = TOP + plot_h + AXIS_H;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        // The y axis runs in pixels from the top, so rows of different heights are simple.
        let mut chart = ChartBuilder::on(&root)
            .margin_top(TOP)
            .margin_left(label_w)
            .margin_right(value_w)
            .x_label_area_size(AXIS_H)
            .build_cartesian_2d(axis.min..axis.max, (plot_h as f64)..0.0)
            .map_err(chart_err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .disable_y_axis()
            .x_labels(0)
            .axis_style(GRID)
            .draw()
            .map_err(chart_err)?;
        let y_top = 0.0;
        let y_bottom = plot_h as f64;
        let small = (FONT, 16).into_font().color(&MUTED);
        for b in &axis.bands {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(b.lo, y_top), (b.hi, y_bottom)],
                    b.color.filled(),
                )))
                .map_err(chart_err)?;
            let (px, _) = chart.backend_coord(&((b.lo + b.hi) / 2.0, y_top));
            root.draw(&Text::new(
                b.label.clone(),
                (px, TOP as i32 - 26),
                small.pos(Pos::new(HPos::Center, VPos::Bottom)),
            ))
            .map_err(chart_err)?;
        }
        for (x, label) in &axis.ticks {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(*x, y_top), (*x, y_bottom)],
                    GRID,
                )))
                .map_err(chart_err)?;
            let (px, py) = chart.backend_coord(&(*x, y_bottom));
            root.draw(&Text::new(
                label.clone(),
                (px, py + 6),
                small.pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(chart_err)?;
        }
        for r in &axis.refs {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(r.x, y_top), (r.x, y_bottom)],
                    MUTED.stroke_width(2),
                )))
                .map_err(chart_err)?;
            let (px, _) = chart.backend_coord(&(r.x, y_top));
            root.draw(&Text::new(
                r.label.clone(),
                (px + 4, TOP as i32 - 4),
                small.pos(Pos::new(HPos::Left, VPos::Bottom)),
            ))
            .map_err(chart_err)?;
        }
        let label_style = (FONT, 19).into_font().color(&INK);
        let heading_style = (FONT, 19).into_font().style(FontStyle::Bold).color(&INK);
        let note_style = (FONT, 17)
            .into_font()
            .style(FontStyle::Italic)
            .color(&MUTED);
        let mut y = 0.0;
        for (slot, height) in slots.iter().zip(&heights) {
            let mid = y + f64::from(*height) / 2.0;
            // Stacked: the label line in the top 26 units of the row, the bar below it.
            let (label_mid, bar_mid) = if l.stacked {
                (y + 13.0, y + 35.0)
            } else {
                (mid, mid)
            };
            let (_, py) = chart.backend_coord(&(axis.min, label_mid));
            let (_, bar_py) = chart.backend_coord(&(axis.min, bar_mid));
            // Where the row's label and its value text go.
            let (label_at, label_pos, value_at, value_pos) = if l.stacked {
                (
                    (8, py),
                    Pos::new(HPos::Left, VPos::Center),
                    (w as i32 - 8, py),
                    Pos::new(HPos::Right, VPos::Center),
                )
            } else {
                (
                    (label_w as i32 - 10, py),
                    Pos::new(HPos::Right, VPos::Center),
                    ((w - value_w) as i32 + 10, py),
                    Pos::new(HPos::Left, VPos::Center),
                )
            };
            match slot {
                Slot::Heading(t) => {
                    root.draw(&Text::new(
                        t.to_string(),
                        (8, py),
                        heading_style.pos(Pos::new(HPos::Left, VPos::Center)),
                    ))
                    .map_err(chart_err)?;
                }
                Slot::Row(row) => {
                    root.draw(&Text::new(
                        row.label.clone(),
                        label_at,
                        label_style.pos(label_pos),
                    ))
                    .map_err(chart_err)?;
                    match &row.value {
                        RowValue::Shown { value, ci, text } => {
                            let half = 0.3 * f64::from(ROW_H);
                            let v = value.clamp(axis.min, axis.max);
                            chart
                                .draw_series(std::iter::once(Rectangle::new(
                                    [(axis.base, bar_mid - half), (v, bar_mid + half)],
                                    row.color.filled(),
                                )))
                                .map_err(chart_err)?;
                            if let Some((lo, hi)) = ci {
                                let (lo, hi) =
                                    (lo.clamp(axis.min, axis.max), hi.clamp(axis.min, axis.max));
                                let cap = 0.22 * f64::from(ROW_H);
                                let style = INK.stroke_width(2);
                                chart
                                    .draw_series([
                                        PathElement::new(vec![(lo, bar_mid), (hi, bar_mid)], style),
                                        PathElement::new(
                                            vec![(lo, bar_mid - cap), (lo, bar_mid + cap)],
                                            style,
                                        ),
                                        PathElement::new(
                                            vec![(hi, bar_mid - cap), (hi, bar_mid + cap)],
                                            style,
                                        ),
                                    ])
                                    .map_err(chart_err)?;
                            }
                            root.draw(&Text::new(
                                text.clone(),
                                value_at,
                                label_style.pos(value_pos),
                            ))
                            .map_err(chart_err)?;
                        }
                        RowValue::Suppressed(why) => {
                            let (px, _) = chart.backend_coord(&(axis.min, bar_mid));
                            root.draw(&Text::new(
                                why.clone(),
                                (px + 8, bar_py),
                                note_style.pos(Pos::new(HPos::Left, VPos::Center)),
                            ))
                            .map_err(chart_err)?;
                            root.draw(&Text::new("–", value_at, label_style.pos(value_pos)))
                                .map_err(chart_err)?;
                        }
                    }
                }
            }
            y += f64::from(*height);
        }
        root.present().map_err(chart_err)?;
    }
    Ok(finish(buf, w, h, aria, l.class))
}

/// One column of a distribution: a count, or withheld.
pub(crate) struct Column {
    /// Label under the column (the scale value).
    pub label: String,
    /// The count (`None`: suppressed, drawn as a dash).
    pub count: Option<u64>,
    /// Fill.
    pub color: RGBColor,
}

/// Vertical bars of a distribution (0–10); a suppressed column shows a dash, no bar.
/// `corner` is written at the top right (the n of the chart).
pub(crate) fn columns(
    cols: &[Column],
    y_label: &str,
    corner: &str,
    aria: &str,
) -> Result<String, ExportError> {
    Ok(columns_at(cols, y_label, corner, aria, WIDE)?
        + &columns_at(cols, y_label, corner, aria, NARROW)?)
}

fn columns_at(
    cols: &[Column],
    y_label: &str,
    corner: &str,
    aria: &str,
    l: Layout,
) -> Result<String, ExportError> {
    let w = l.w;
    let h: u32 = 260;
    let max = cols
        .iter()
        .filter_map(|c| c.count)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = cols.len().max(1) as f64;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin_top(16)
            .margin_right(20)
            .margin_left(10)
            .x_label_area_size(AXIS_H)
            .y_label_area_size(if l.stacked { 48 } else { 60 })
            .build_cartesian_2d(0.0..n, 0.0..max * 1.18)
            .map_err(chart_err)?;
        let label_font = (FONT, 16).into_font().color(&MUTED);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(5)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .y_label_style(label_font.clone())
            .y_desc(y_label)
            .axis_desc_style(label_font.clone())
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .axis_style(GRID)
            .draw()
            .map_err(chart_err)?;
        let value_font = (FONT, 17).into_font().color(&INK);
        root.draw(&Text::new(
            corner.to_owned(),
            (w as i32 - 24, 6),
            value_font.pos(Pos::new(HPos::Right, VPos::Top)),
        ))
        .map_err(chart_err)?;
        for (i, c) in cols.iter().enumerate() {
            let x = i as f64;
            let (px, py) = chart.backend_coord(&(x + 0.5, 0.0));
            root.draw(&Text::new(
                c.label.clone(),
                (px, py + 6),
                label_font.pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(chart_err)?;
            match c.count {
                Some(v) => {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x + 0.15, 0.0), (x + 0.85, v as f64)],
                            c.color.filled(),
                        )))
                        .map_err(chart_err)?;
                    let (tx, ty) = chart.backend_coord(&(x + 0.5, v as f64));
                    root.draw(&Text::new(
                        v.to_string(),
                        (tx, ty - 4),
                        value_font.pos(Pos::new(HPos::Center, VPos::Bottom)),
                    ))
                    .map_err(chart_err)?;
                }
                None => {
                    root.draw(&Text::new(
                        "–",
                        (px, py - 4),
                        value_font.pos(Pos::new(HPos::Center, VPos::Bottom)),
                    ))
                    .map_err(chart_err)?;
                }
            }
        }
        root.present().map_err(chart_err)?;
    }
    Ok(finish(buf, w, h, aria, l.class))
}

/// Makes the SVG scale with the page, marks its variant and names it for screen readers.
fn finish(svg: String, w: u32, h: u32, aria: &str, class: &str) -> String {
    let head = format!("<svg width=\"{w}\" height=\"{h}\" ");
    let named = format!(
        "<svg class=\"chart {class}\" role=\"img\" aria-label=\"{}\" width=\"{w}\" height=\"{h}\" ",
        super::esc(aria)
    );
    svg.replacen(&head, &named, 1)
}
