pub mod genuine;
