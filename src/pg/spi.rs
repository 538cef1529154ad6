//! One-row SPI lookups for read paths. pgrx's `Spi::get_one*` run as updates: they first
//! assign the transaction an ID, which fails inside a query with parallel workers ("cannot
//! assign XIDs during a parallel operation": a window function called next to a parallel
//! scan) and spends an XID on a plain SELECT. These select: read-only while the transaction
//! has written nothing, otherwise seeing its writes.

use pgrx::datum::{DatumWithOid, FromDatum, IntoDatum};
use pgrx::spi::{self, Spi};

pub fn get_one<A: FromDatum + IntoDatum>(query: &str) -> spi::Result<Option<A>> {
    Spi::connect(|client| client.select(query, Some(1), &[])?.first().get_one())
}

pub fn get_one_with_args<A: FromDatum + IntoDatum>(
    query: &str,
    args: &[DatumWithOid<'_>],
) -> spi::Result<Option<A>> {
    Spi::connect(|client| client.select(query, Some(1), args)?.first().get_one())
}

pub fn get_two_with_args<A: FromDatum + IntoDatum, B: FromDatum + IntoDatum>(
    query: &str,
    args: &[DatumWithOid<'_>],
) -> spi::Result<(Option<A>, Option<B>)> {
    Spi::connect(|client| client.select(query, Some(1), args)?.first().get_two())
}
