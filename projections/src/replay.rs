//! (time travel under construction)
