//! `#[derive(Request)]`: the parser of a request body or query string, made from the structure
//! that documents it (`#[derive(utoipa::ToSchema)]` or `IntoParams`), so a request is one type.
//!
//! Each field is read by its type (`mt5_bridge::http::validate::Field`) under the limits its
//! `#[schema(...)]` or `#[param(...)]` attribute states for the document (`min_length`,
//! `max_length`, `minimum`, `exclusive_minimum`, `maximum`): a limit is written once. Its name is
//! the field's, or its `#[serde(rename)]`. The field's type says what absent and null mean:
//!
//! - `T`: required (absent or null is "is required"), unless `#[request(default = <expr>)]`;
//! - `Option<T>`: absent or null is `None`;
//! - `Opt<T>`: absent, null and a value stay apart (partial updates).
//!
//! `#[request(with = <fn>)]` reads a field by a function of its own (`fn(&mut Fields, &'static
//! str, &Rule) -> Opt<T>`), `#[request(check = <fn>)]` checks a read value further
//! (`fn(&T) -> Option<message>`), and on the structure `#[request(check = <fn>)]` checks fields
//! against each other once all are read (`fn(&Self, &mut Fields)`); `#[request(ignore_unknown)]`
//! lets names the structure does not have pass (two account queries always have). Every field is
//! read, and every fault reported, before any is refused.

use proc_macro::TokenStream;
use proc_macro2::{TokenStream as Tokens, TokenTree};
use quote::{format_ident, quote};
use syn::meta::ParseNestedMeta;
use syn::{
    parse_macro_input, Data, DeriveInput, Expr, GenericArgument, LitStr, PathArguments, Type,
};

#[proc_macro_derive(Request, attributes(request))]
pub fn derive_request(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// What absent and null mean for a field, from its declared type.
enum Shape {
    Plain,
    Option,
    Opt,
}

#[derive(Default)]
struct Limits {
    min_length: Option<Expr>,
    max_length: Option<Expr>,
    minimum: Option<Expr>,
    exclusive_minimum: Option<Expr>,
    maximum: Option<Expr>,
}

#[derive(Default)]
struct Own {
    default: Option<Expr>,
    with: Option<Expr>,
    check: Option<Expr>,
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let name = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            name,
            "Request is derived for structures",
        ));
    };
    let mut struct_check = None;
    let mut ignore_unknown = false;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("request")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("check") {
                struct_check = Some(meta.value()?.parse::<Expr>()?);
                Ok(())
            } else if meta.path.is_ident("ignore_unknown") {
                ignore_unknown = true;
                Ok(())
            } else {
                Err(meta.error("expected `check = <fn>` or `ignore_unknown`"))
            }
        })?;
    }
    let v = quote!(crate::http::validate);
    let mut reads = Vec::new();
    let mut inits = Vec::new();
    for (i, field) in data.fields.iter().enumerate() {
        let ident = field
            .ident
            .as_ref()
            .ok_or_else(|| syn::Error::new_spanned(field, "fields must be named"))?;
        let mut json_name = ident.to_string();
        let mut limits = Limits::default();
        let mut own = Own::default();
        for attr in &field.attrs {
            if attr.path().is_ident("serde") {
                attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("rename") {
                        json_name = meta.value()?.parse::<LitStr>()?.value();
                    } else {
                        skip_value(&meta)?;
                    }
                    Ok(())
                })?;
            } else if attr.path().is_ident("schema") || attr.path().is_ident("param") {
                attr.parse_nested_meta(|meta| {
                    let slot = match meta.path.get_ident().map(|i| i.to_string()).as_deref() {
                        Some("min_length") => &mut limits.min_length,
                        Some("max_length") => &mut limits.max_length,
                        Some("minimum") => &mut limits.minimum,
                        Some("exclusive_minimum") => &mut limits.exclusive_minimum,
                        Some("maximum") => &mut limits.maximum,
                        Some("rename") => {
                            json_name = meta.value()?.parse::<LitStr>()?.value();
                            return Ok(());
                        }
                        _ => return skip_value(&meta),
                    };
                    *slot = Some(meta.value()?.parse::<Expr>()?);
                    Ok(())
                })?;
            } else if attr.path().is_ident("request") {
                attr.parse_nested_meta(|meta| {
                    let slot = if meta.path.is_ident("default") {
                        &mut own.default
                    } else if meta.path.is_ident("with") {
                        &mut own.with
                    } else if meta.path.is_ident("check") {
                        &mut own.check
                    } else {
                        return Err(meta.error(
                            "expected `default = <expr>`, `with = <fn>` or `check = <fn>`",
                        ));
                    };
                    *slot = Some(meta.value()?.parse::<Expr>()?);
                    Ok(())
                })?;
            }
        }
        let (shape, inner) = shape_of(&field.ty);
        let usize_of = |e: &Option<Expr>| match e {
            Some(e) => quote!(::core::option::Option::Some((#e) as usize)),
            None => quote!(::core::option::Option::None),
        };
        let f64_of = |e: &Option<Expr>| match e {
            Some(e) => quote!(::core::option::Option::Some((#e) as f64)),
            None => quote!(::core::option::Option::None),
        };
        let (min_length, max_length) = (usize_of(&limits.min_length), usize_of(&limits.max_length));
        let (minimum, exclusive_minimum, maximum) = (
            f64_of(&limits.minimum),
            f64_of(&limits.exclusive_minimum),
            f64_of(&limits.maximum),
        );
        let reader = match &own.with {
            Some(with) => quote!(#with(f, #json_name, &RULE)),
            None => quote!(<#inner as #v::Field>::read(f, #json_name, &RULE)),
        };
        let check = own.check.as_ref().map(|check| {
            quote! {
                if let #v::Opt::Value(x) = &value {
                    if let ::core::option::Option::Some(m) = #check(x) {
                        f.error(#json_name, m);
                    }
                }
            }
        });
        let finish = match (shape, &own.default) {
            (Shape::Opt, None) => quote!(value),
            (Shape::Option, None) => quote!(value.value()),
            (Shape::Plain, Some(default)) => quote!(value.value().unwrap_or_else(|| #default)),
            (Shape::Plain, None) => quote!(f.required(#json_name, value)),
            _ => {
                return Err(syn::Error::new_spanned(
                    field,
                    "`default` goes with a plain type (an Option's is None)",
                ))
            }
        };
        let var = format_ident!("__field_{i}");
        reads.push(quote! {
            let #var = {
                const RULE: #v::Rule = #v::Rule {
                    min_length: #min_length,
                    max_length: #max_length,
                    minimum: #minimum,
                    exclusive_minimum: #exclusive_minimum,
                    maximum: #maximum,
                };
                let value: #v::Opt<#inner> = #reader;
                #check
                #finish
            };
        });
        inits.push(quote!(#ident: #var));
    }
    let check = struct_check.map(|check| {
        quote! {
            fn check(&self, f: &mut #v::Fields<'_>) {
                #check(self, f)
            }
        }
    });
    let ignore_unknown = ignore_unknown.then(|| {
        quote!(
            const IGNORE_UNKNOWN: bool = true;
        )
    });
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics #v::Request for #name #ty_generics #where_clause {
            #ignore_unknown
            fn read(f: &mut #v::Fields<'_>) -> Self {
                #(#reads)*
                Self { #(#inits),* }
            }
            #check
        }
    })
}

/// The declared type's shape and the type read (`T` of `Option<T>` and `Opt<T>`).
fn shape_of(ty: &Type) -> (Shape, &Type) {
    if let Type::Path(p) = ty {
        if let Some(last) = p.path.segments.last() {
            let shape = match last.ident.to_string().as_str() {
                "Option" => Shape::Option,
                "Opt" => Shape::Opt,
                _ => return (Shape::Plain, ty),
            };
            if let PathArguments::AngleBracketed(args) = &last.arguments {
                if let Some(GenericArgument::Type(inner)) = args.args.first() {
                    return (shape, inner);
                }
            }
        }
    }
    (Shape::Plain, ty)
}

/// Passes over an attribute entry that is not ours (`value_type = Vec<T>`, `write_only`, …).
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if !meta.input.peek(syn::Token![=]) && !meta.input.peek(syn::token::Paren) {
        return Ok(());
    }
    meta.input.step(|cursor| {
        // Up to the next comma outside angle brackets (`value_type = HashMap<K, V>`).
        let (mut rest, mut depth) = (*cursor, 0usize);
        while let Some((tt, next)) = rest.token_tree() {
            if let TokenTree::Punct(p) = &tt {
                match p.as_char() {
                    ',' if depth == 0 => return Ok(((), rest)),
                    '<' => depth += 1,
                    '>' => depth = depth.saturating_sub(1),
                    _ => {}
                }
            }
            rest = next;
        }
        Ok(((), rest))
    })
}
