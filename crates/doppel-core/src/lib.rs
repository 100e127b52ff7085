//! doppel's shared vocabulary: the in-memory [`Table`], column [`Metadata`] and its detection,
//! the business rules of [`constraint`], the [`Error`] type, [`Warning`]s and seeded randomness.
//!
//! Every other doppel crate depends on this one and on nothing above it.
//!
//! ```
//! use doppel_core::{Column, ColumnData, Metadata, Table};
//!
//! let table = Table::try_new(vec![Column::new(
//!     "age",
//!     ColumnData::Text(vec![Some("31".into()), Some("45".into()), None, Some("52".into())]),
//! )])?;
//! let (metadata, _profiles) = Metadata::detect(&table);
//! assert_eq!(metadata.columns[0].kind.name(), "numerical (integer)");
//! # Ok::<(), doppel_core::Error>(())
//! ```

pub mod condition;
pub mod constraint;
pub mod error;
pub mod metadata;
pub mod pii;
pub mod rng;
pub mod table;
pub mod temporal;
pub mod text;
pub mod value;
pub mod warning;

pub use constraint::{
    ColumnRule, Constraint, ConstraintSet, Expr, FittedConstraint, Literal, RowCheck, RuleValue, Suggestion, UniqueSeen,
};
pub use error::{Error, Result, ResultExt};
pub use metadata::{ColumnKind, ColumnMeta, ColumnProfile, Metadata, NumberFormat, PiiKind, Storage};
pub use rng::{SeededRng, stream_rng};
pub use table::{Column, ColumnData, Table, TextFormat};
pub use value::Value;
pub use warning::Warning;
