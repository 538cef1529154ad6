//! NI scaling (`NI_Scale[n]_*` properties), following npTDMS `scaling.py`.
//!
//! Supported scale types: `Linear`, `Polynomial`, `AdvancedAPI` (no-op),
//! `Add`, `Subtract`, and implicit DAQmx scaler references (a scale index with
//! no `Scale_Type` property). Other types (`RTD`, `Strain`, `Table`,
//! `Thermistor`, `Thermocouple`, ...) make [`Scaling::Unsupported`].
//! Scaled values are always computed in `f64`.

use crate::error::TdmsError;
use crate::types::PropertyValue;

/// Input source id meaning "the channel's raw data".
pub const RAW_DATA_INPUT_SOURCE: i64 = 0xFFFF_FFFF;
/// Upper bound on the number of scales in one chain (files have a handful).
const MAX_SCALES: i64 = 1024;

/// Where a scale takes its input from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleInput {
    /// The channel's raw (unscaled) data.
    Raw,
    /// The output of another scale in the chain (index into [`ScaleChain::scales`]).
    Scale(usize),
}

/// One scale of a chain.
#[derive(Debug, Clone, PartialEq)]
pub enum Scale {
    /// `y = x * slope + intercept`
    Linear {
        /// Slope.
        slope: f64,
        /// Y intercept.
        intercept: f64,
        /// Input.
        input: ScaleInput,
    },
    /// `y = c0 + c1 x + c2 x^2 + ...` (Horner's rule as numpy `polyval`).
    Polynomial {
        /// Coefficients, lowest order first.
        coefficients: Vec<f64>,
        /// Input.
        input: ScaleInput,
    },
    /// `AdvancedAPI` scale type: passes its input through.
    NoOp {
        /// Input.
        input: ScaleInput,
    },
    /// Values of the DAQmx scaler with this scale id.
    DaqmxScaler {
        /// DAQmx scale id.
        scale_id: u32,
    },
    /// `left + right`.
    Add {
        /// Left operand.
        left: ScaleInput,
        /// Right operand.
        right: ScaleInput,
    },
    /// `right - left` (npTDMS / Excel plugin behaviour).
    Subtract {
        /// Left operand.
        left: ScaleInput,
        /// Right operand.
        right: ScaleInput,
    },
}

/// A chain of scales; the output is the last scale's output.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleChain {
    /// Scales by index (`NI_Scale[index]`).
    pub scales: Vec<Scale>,
}

/// The scaling that applies to a channel (looked up on the channel, then its
/// group, then the file, like npTDMS).
#[derive(Debug, Clone, PartialEq)]
pub enum Scaling {
    /// No scaling: scaled values are the raw values.
    None,
    /// A supported chain; scaled values are `f64`.
    Chain(ScaleChain),
    /// A scale type this reader does not implement. Reading scaled values fails
    /// with [`TdmsError::Unsupported`] naming the type.
    Unsupported {
        /// The `NI_Scale[n]_Scale_Type` value.
        scale_type: String,
        /// `n`.
        scale_index: usize,
    },
    /// The scaling properties are inconsistent (e.g. a missing slope). Reading
    /// scaled values fails with [`TdmsError::Malformed`].
    Invalid(String),
}

fn get<'a>(props: &'a [(String, PropertyValue)], name: &str) -> Option<&'a PropertyValue> {
    props.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// npTDMS `_get_number_of_scalings`.
fn number_of_scales(props: &[(String, PropertyValue)]) -> Result<Option<i64>, String> {
    if let Some(v) = get(props, "NI_Number_Of_Scales") {
        return v
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("NI_Number_Of_Scales is not an integer: {v:?}"));
    }
    let mut max: Option<i64> = None;
    for (k, _) in props {
        if let Some(rest) = k.strip_prefix("NI_Scale[") {
            let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            if digits.is_empty() {
                continue;
            }
            if rest[digits.len()..].starts_with("]_Scale_Type") {
                let Ok(n) = digits.parse::<i64>() else {
                    return Err(format!("scale index in {k} is too large"));
                };
                max = Some(max.map_or(n, |m| m.max(n)));
            }
        }
    }
    Ok(max.map(|m| m.saturating_add(1)))
}

/// Scaling for a channel from its own, its group's and the file's properties.
pub fn scaling_for(
    channel: &[(String, PropertyValue)],
    group: &[(String, PropertyValue)],
    file: &[(String, PropertyValue)],
) -> Scaling {
    for props in [channel, group, file] {
        if let Some(s) = scaling_from(props) {
            return s;
        }
    }
    Scaling::None
}

fn scaling_from(props: &[(String, PropertyValue)]) -> Option<Scaling> {
    let n = match number_of_scales(props) {
        Ok(Some(n)) => n,
        Ok(None) => return None,
        Err(e) => return Some(Scaling::Invalid(e)),
    };
    if n <= 0 {
        return None;
    }
    if get(props, "NI_Scaling_Status").and_then(|v| v.as_str()) == Some("scaled") {
        return None;
    }
    if n > MAX_SCALES {
        return Some(Scaling::Invalid(format!(
            "{n} scales is more than the supported {MAX_SCALES}"
        )));
    }
    let n = n as usize;
    let mut scales = Vec::with_capacity(n);
    for i in 0..n {
        match parse_scale(props, i, n) {
            Ok(s) => scales.push(s),
            Err(s) => return Some(s),
        }
    }
    Some(Scaling::Chain(ScaleChain { scales }))
}

fn parse_input(
    props: &[(String, PropertyValue)],
    name: &str,
    n: usize,
    required: bool,
) -> Result<ScaleInput, Scaling> {
    let v = match get(props, name) {
        Some(v) => v,
        None if required => return Err(Scaling::Invalid(format!("missing property {name}"))),
        None => return Ok(ScaleInput::Raw),
    };
    let Some(i) = v.as_i64() else {
        return Err(Scaling::Invalid(format!("{name} is not an integer")));
    };
    if i == RAW_DATA_INPUT_SOURCE {
        return Ok(ScaleInput::Raw);
    }
    // Python list indexing, as npTDMS uses it: negative counts from the end.
    let idx = if i < 0 {
        (n as i64).checked_add(i)
    } else {
        Some(i)
    };
    match idx {
        Some(k) if k >= 0 && (k as u64) < n as u64 => Ok(ScaleInput::Scale(k as usize)),
        _ => Err(Scaling::Invalid(format!("{name} = {i} refers to no scale"))),
    }
}

fn float_prop(props: &[(String, PropertyValue)], name: &str) -> Result<f64, Scaling> {
    get(props, name)
        .ok_or_else(|| Scaling::Invalid(format!("missing property {name}")))?
        .as_f64()
        .ok_or_else(|| Scaling::Invalid(format!("{name} is not a number")))
}

fn parse_scale(props: &[(String, PropertyValue)], i: usize, n: usize) -> Result<Scale, Scaling> {
    let p = |s: &str| format!("NI_Scale[{i}]_{s}");
    let Some(type_value) = get(props, &p("Scale_Type")) else {
        // Scales from DAQmx scalers have no properties.
        return Ok(Scale::DaqmxScaler { scale_id: i as u32 });
    };
    let unsupported = |t: String| Scaling::Unsupported {
        scale_type: t,
        scale_index: i,
    };
    let Some(t) = type_value.as_str() else {
        return Err(unsupported(format!("{:?}", type_value)));
    };
    Ok(match t {
        "Linear" => Scale::Linear {
            slope: float_prop(props, &p("Linear_Slope"))?,
            intercept: float_prop(props, &p("Linear_Y_Intercept"))?,
            input: parse_input(props, &p("Linear_Input_Source"), n, false)?,
        },
        "Polynomial" => {
            let count = match get(props, &p("Polynomial_Coefficients_Size")) {
                None => 4,
                Some(v) => v.as_i64().ok_or_else(|| {
                    Scaling::Invalid(format!(
                        "{} is not an integer",
                        p("Polynomial_Coefficients_Size")
                    ))
                })?,
            };
            if !(0..=MAX_SCALES).contains(&count) {
                return Err(Scaling::Invalid(format!("{count} polynomial coefficients")));
            }
            let mut coefficients = Vec::with_capacity(count as usize);
            for j in 0..count {
                coefficients.push(float_prop(
                    props,
                    &p(&format!("Polynomial_Coefficients[{j}]")),
                )?);
            }
            Scale::Polynomial {
                coefficients,
                input: parse_input(props, &p("Polynomial_Input_Source"), n, false)?,
            }
        }
        "AdvancedAPI" => Scale::NoOp {
            input: parse_input(props, &p("AdvancedAPI_Input_Source"), n, false)?,
        },
        "Add" => Scale::Add {
            left: parse_input(props, &p("Add_Left_Operand_Input_Source"), n, true)?,
            right: parse_input(props, &p("Add_Right_Operand_Input_Source"), n, true)?,
        },
        "Subtract" => Scale::Subtract {
            left: parse_input(props, &p("Subtract_Left_Operand_Input_Source"), n, true)?,
            right: parse_input(props, &p("Subtract_Right_Operand_Input_Source"), n, true)?,
        },
        other => return Err(unsupported(other.to_string())),
    })
}

/// Inputs for evaluating a chain over one block of values.
pub(crate) struct ScaleInputs<'a> {
    pub raw: Option<&'a [f64]>,
    pub scalers: &'a [(u32, Vec<f64>)],
    pub len: usize,
}

impl ScaleChain {
    /// Which inputs the final output depends on: (needs raw, DAQmx scale ids).
    pub(crate) fn needs(&self) -> Result<(bool, Vec<u32>), TdmsError> {
        let mut raw = false;
        let mut ids = Vec::new();
        let mut seen = vec![false; self.scales.len()];
        let mut stack: Vec<ScaleInput> = match self.scales.len() {
            0 => return Ok((true, ids)),
            n => vec![ScaleInput::Scale(n - 1)],
        };
        while let Some(inp) = stack.pop() {
            let ScaleInput::Scale(i) = inp else {
                raw = true;
                continue;
            };
            match seen.get_mut(i) {
                Some(s) if !*s => *s = true,
                _ => continue,
            }
            match self.scales.get(i) {
                Some(Scale::DaqmxScaler { scale_id }) if !ids.contains(scale_id) => {
                    ids.push(*scale_id)
                }
                Some(Scale::DaqmxScaler { .. }) => {}
                Some(
                    Scale::Linear { input, .. }
                    | Scale::Polynomial { input, .. }
                    | Scale::NoOp { input },
                ) => stack.push(*input),
                Some(Scale::Add { left, right } | Scale::Subtract { left, right }) => {
                    stack.push(*left);
                    stack.push(*right);
                }
                None => {}
            }
        }
        Ok((raw, ids))
    }

    /// Evaluate the chain for one block into `out`.
    pub(crate) fn apply(
        &self,
        inputs: &ScaleInputs<'_>,
        out: &mut Vec<f64>,
    ) -> Result<(), TdmsError> {
        let n = self.scales.len();
        if n == 0 {
            out.clear();
            if let Some(r) = inputs.raw {
                out.extend_from_slice(r);
            }
            return Ok(());
        }
        let mut memo: Vec<Option<Vec<f64>>> = vec![None; n];
        let mut in_progress = vec![false; n];
        let v = self.eval(n - 1, inputs, &mut memo, &mut in_progress)?;
        out.clear();
        out.extend_from_slice(&v);
        Ok(())
    }

    fn input_values(
        &self,
        input: ScaleInput,
        inputs: &ScaleInputs<'_>,
        memo: &mut Vec<Option<Vec<f64>>>,
        in_progress: &mut Vec<bool>,
    ) -> Result<Vec<f64>, TdmsError> {
        match input {
            ScaleInput::Raw => inputs.raw.map(|r| r.to_vec()).ok_or_else(|| {
                TdmsError::malformed(
                    0,
                    "scaling uses the raw data input, but DAQmx raw data has only scaler inputs",
                )
            }),
            ScaleInput::Scale(i) => self.eval(i, inputs, memo, in_progress),
        }
    }

    fn eval(
        &self,
        i: usize,
        inputs: &ScaleInputs<'_>,
        memo: &mut Vec<Option<Vec<f64>>>,
        in_progress: &mut Vec<bool>,
    ) -> Result<Vec<f64>, TdmsError> {
        if let Some(Some(v)) = memo.get(i) {
            return Ok(v.clone());
        }
        match in_progress.get_mut(i) {
            Some(p) if !*p => *p = true,
            _ => {
                return Err(TdmsError::malformed(
                    0,
                    format!("scaling chain has a cycle at scale {i}"),
                ))
            }
        }
        let Some(scale) = self.scales.get(i) else {
            return Err(TdmsError::malformed(0, format!("no scale {i}")));
        };
        let result = self.scale_values(scale, inputs, memo, in_progress)?;
        if result.len() != inputs.len {
            return Err(TdmsError::malformed(
                0,
                "scaling produced a block of the wrong length",
            ));
        }
        if let Some(p) = in_progress.get_mut(i) {
            *p = false;
        }
        if let Some(slot) = memo.get_mut(i) {
            *slot = Some(result.clone());
        }
        Ok(result)
    }

    /// The values of `scale` from its inputs (evaluated through `memo`).
    fn scale_values(
        &self,
        scale: &Scale,
        inputs: &ScaleInputs<'_>,
        memo: &mut Vec<Option<Vec<f64>>>,
        in_progress: &mut Vec<bool>,
    ) -> Result<Vec<f64>, TdmsError> {
        Ok(match scale {
            Scale::Linear { slope, intercept, input } => {
                let mut x = self.input_values(*input, inputs, memo, in_progress)?;
                for v in &mut x {
                    *v = *v * slope + intercept;
                }
                x
            }
            Scale::Polynomial { coefficients, input } => {
                let mut x = self.input_values(*input, inputs, memo, in_progress)?;
                polyval_in_place(coefficients, &mut x);
                x
            }
            Scale::NoOp { input } => self.input_values(*input, inputs, memo, in_progress)?,
            Scale::DaqmxScaler { scale_id } => inputs
                .scalers
                .iter()
                .find(|(id, _)| id == scale_id)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    TdmsError::malformed(0, format!("scaling refers to DAQmx scaler {scale_id}, which the channel does not have"))
                })?,
            Scale::Add { left, right } | Scale::Subtract { left, right } => {
                let l = self.input_values(*left, inputs, memo, in_progress)?;
                let mut r = self.input_values(*right, inputs, memo, in_progress)?;
                if l.len() != r.len() {
                    return Err(TdmsError::malformed(0, "scaling operands have different lengths"));
                }
                let add = matches!(scale, Scale::Add { .. });
                for (rv, lv) in r.iter_mut().zip(l.iter()) {
                    *rv = if add { *lv + *rv } else { *rv - *lv };
                }
                r
            }
        })
    }
}

/// Replaces each `x` by the polynomial `coefficients` at `x`, as numpy's
/// `polyval` computes it (no coefficients: 0).
fn polyval_in_place(coefficients: &[f64], x: &mut [f64]) {
    match coefficients.split_last() {
        None => x.iter_mut().for_each(|v| *v = 0.0),
        Some((last, rest)) => {
            for v in x {
                // numpy polyval: c[-1] + x*0, then c[k] + acc*x downwards.
                let xv = *v;
                let mut acc = *last + xv * 0.0;
                for c in rest.iter().rev() {
                    acc = *c + acc * xv;
                }
                *v = acc;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(list: &[(&str, PropertyValue)]) -> Vec<(String, PropertyValue)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn linear_then_polynomial_chain() {
        let p = props(&[
            ("NI_Number_Of_Scales", PropertyValue::U32(2)),
            (
                "NI_Scale[0]_Scale_Type",
                PropertyValue::String("Linear".into()),
            ),
            ("NI_Scale[0]_Linear_Slope", PropertyValue::F64(2.0)),
            ("NI_Scale[0]_Linear_Y_Intercept", PropertyValue::F64(1.0)),
            (
                "NI_Scale[1]_Scale_Type",
                PropertyValue::String("Polynomial".into()),
            ),
            (
                "NI_Scale[1]_Polynomial_Coefficients_Size",
                PropertyValue::I32(3),
            ),
            (
                "NI_Scale[1]_Polynomial_Coefficients[0]",
                PropertyValue::F64(1.0),
            ),
            (
                "NI_Scale[1]_Polynomial_Coefficients[1]",
                PropertyValue::F64(0.0),
            ),
            (
                "NI_Scale[1]_Polynomial_Coefficients[2]",
                PropertyValue::F64(1.0),
            ),
            ("NI_Scale[1]_Polynomial_Input_Source", PropertyValue::U32(0)),
        ]);
        let Scaling::Chain(chain) = scaling_for(&p, &[], &[]) else {
            panic!("expected a chain");
        };
        let raw = [0.0, 1.0, 2.0];
        let mut out = Vec::new();
        chain
            .apply(
                &ScaleInputs {
                    raw: Some(&raw),
                    scalers: &[],
                    len: 3,
                },
                &mut out,
            )
            .expect("scales");
        assert_eq!(out, vec![2.0, 10.0, 26.0]);
    }

    #[test]
    fn unsupported_and_cycles() {
        let p = props(&[(
            "NI_Scale[0]_Scale_Type",
            PropertyValue::String("RTD".into()),
        )]);
        assert_eq!(
            scaling_for(&p, &[], &[]),
            Scaling::Unsupported {
                scale_type: "RTD".into(),
                scale_index: 0
            }
        );
        let p = props(&[
            ("NI_Number_Of_Scales", PropertyValue::U32(1)),
            (
                "NI_Scale[0]_Scale_Type",
                PropertyValue::String("AdvancedAPI".into()),
            ),
            (
                "NI_Scale[0]_AdvancedAPI_Input_Source",
                PropertyValue::U32(0),
            ),
        ]);
        let Scaling::Chain(chain) = scaling_for(&p, &[], &[]) else {
            panic!("expected a chain");
        };
        let mut out = Vec::new();
        let r = chain.apply(
            &ScaleInputs {
                raw: Some(&[1.0]),
                scalers: &[],
                len: 1,
            },
            &mut out,
        );
        assert!(matches!(r, Err(TdmsError::Malformed { .. })));
        let scaled = props(&[
            ("NI_Scaling_Status", PropertyValue::String("scaled".into())),
            (
                "NI_Scale[0]_Scale_Type",
                PropertyValue::String("Linear".into()),
            ),
        ]);
        assert_eq!(scaling_for(&scaled, &[], &[]), Scaling::None);
    }
}
