//! The mails, rendered from templates (`templates/mail.txt` and
//! `templates/mail.html`, compiled into the binary by askama and checked at
//! build time; the HTML one escapes every value).
//!
//! A notification is rendered when it is sent, from what its event carried
//! ([`MailDetails`]), the order's copy (lines, totals) and the customer's
//! name. No I/O here: the sender hands the result to the mailer.

use askama::Template as _;
use ecommerce_mailer::{MailAddress, OutgoingMail};

use crate::domain::{ContactEmail, MailDetails, Notification, OrderCopy, RejectionReason};

/// A notification that cannot become a mail (sending it again would not
/// help): it is marked FAILED.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the {template} mail needs the order's details, which are unknown")]
    OrderUnknown { template: &'static str },
    #[error("the template failed: {0}")]
    Template(#[from] askama::Error),
    #[error("the address {domain} cannot be mailed")]
    Address { domain: String },
}

/// One ordered line as the mail shows it.
#[derive(Debug)]
struct LineView {
    title: String,
    sku: String,
    quantity: i32,
    unit_price: String,
    line_total: String,
}

#[derive(Debug)]
struct ConfirmedView {
    lines: Vec<LineView>,
    subtotal: String,
    shipping: String,
    shipping_option: String,
    total: String,
}

#[derive(Debug)]
struct ShortLineView {
    title: String,
    sku: String,
    requested: i32,
    available: i32,
}

#[derive(Debug)]
struct RejectedView {
    short_lines: Vec<ShortLineView>,
}

#[derive(Debug)]
struct CanceledView {
    explanation: &'static str,
    reason: String,
}

#[derive(Debug)]
struct ShippedView {
    carrier: String,
    tracking_number: String,
}

/// Everything the templates show, as text: one of the optional parts is
/// set (or `delivered`), after the greeting and the headline.
#[derive(Debug)]
struct MailView {
    subject: String,
    greeting: String,
    headline: String,
    order_id: String,
    confirmed: Option<ConfirmedView>,
    rejected: Option<RejectedView>,
    canceled: Option<CanceledView>,
    shipped: Option<ShippedView>,
    delivered: bool,
}

#[derive(askama::Template)]
#[template(path = "mail.txt")]
struct TextMail<'a> {
    view: &'a MailView,
}

#[derive(askama::Template)]
#[template(path = "mail.html")]
struct HtmlMail<'a> {
    view: &'a MailView,
}

/// The mail of `notification` to `to`, greeting `name` (empty: no name),
/// showing `order` where the template does.
pub fn render(
    notification: &Notification,
    to: &ContactEmail,
    name: &str,
    order: Option<&OrderCopy>,
) -> Result<OutgoingMail, RenderError> {
    let view = view(notification, name, order)?;
    let text = TextMail { view: &view }.render()?;
    let html = HtmlMail { view: &view }.render()?;
    let address = MailAddress::parse(to.as_str()).ok_or_else(|| RenderError::Address {
        domain: to.domain().to_owned(),
    })?;
    Ok(OutgoingMail::text(address, view.subject, with_newline(text)).with_html(with_newline(html)))
}

fn with_newline(mut body: String) -> String {
    if !body.ends_with('\n') {
        body.push('\n');
    }
    body
}

fn view(
    notification: &Notification,
    name: &str,
    order: Option<&OrderCopy>,
) -> Result<MailView, RenderError> {
    let order_id = notification.order_id.to_string();
    let greeting = match name.trim() {
        "" => "Hello,".to_owned(),
        name => format!("Hello {name},"),
    };
    let mut view = MailView {
        subject: String::new(),
        greeting,
        headline: String::new(),
        order_id: order_id.clone(),
        confirmed: None,
        rejected: None,
        canceled: None,
        shipped: None,
        delivered: false,
    };
    let title_of = |sku: &str| {
        order
            .and_then(|order| order.title_of(sku))
            .unwrap_or(sku)
            .to_owned()
    };
    match &notification.details {
        MailDetails::OrderConfirmed => {
            let order = order.ok_or(RenderError::OrderUnknown {
                template: notification.template().as_str(),
            })?;
            view.subject = format!("Your order {order_id} is confirmed");
            view.headline = "Thank you for your order. It is confirmed and being prepared:".into();
            view.confirmed = Some(ConfirmedView {
                lines: order
                    .lines
                    .iter()
                    .map(|line| LineView {
                        title: line.title.clone(),
                        sku: line.sku.as_str().to_owned(),
                        quantity: line.quantity.get(),
                        unit_price: line.unit_price.to_string(),
                        line_total: line.line_total.to_string(),
                    })
                    .collect(),
                subtotal: order.subtotal.to_string(),
                shipping: order.shipping.to_string(),
                shipping_option: order
                    .shipping_option_id
                    .map_or_else(|| "standard".to_owned(), |id| format!("option {id}")),
                total: order.total.to_string(),
            });
        }
        MailDetails::OrderRejected {
            reason,
            short_lines,
        } => {
            view.subject = format!("We could not accept your order {order_id}");
            view.headline = match reason {
                RejectionReason::OutOfStock => {
                    "We are sorry: part of your order is out of stock, so we could not accept it."
                }
                RejectionReason::Other => "We are sorry: we could not accept your order.",
            }
            .to_owned();
            view.rejected = Some(RejectedView {
                short_lines: short_lines
                    .iter()
                    .map(|line| ShortLineView {
                        title: title_of(&line.sku),
                        sku: line.sku.clone(),
                        requested: line.requested,
                        available: line.available,
                    })
                    .collect(),
            });
        }
        MailDetails::OrderCanceled { cause, reason } => {
            view.subject = format!("Your order {order_id} was canceled");
            view.headline = "Your order was canceled.".to_owned();
            view.canceled = Some(CanceledView {
                explanation: cause.explanation(),
                reason: reason.clone(),
            });
        }
        MailDetails::ShipmentShipped {
            carrier,
            tracking_number,
        } => {
            view.subject = format!("Your order {order_id} is on its way");
            view.headline = "Your order has left our warehouse.".to_owned();
            view.shipped = Some(ShippedView {
                carrier: carrier.clone(),
                tracking_number: tracking_number.clone(),
            });
        }
        MailDetails::ShipmentDelivered => {
            view.subject = format!("Your order {order_id} was delivered");
            view.headline = "Your order was delivered.".to_owned();
            view.delivered = true;
        }
    }
    Ok(view)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::Utc;
    use ecommerce_kernel::{Currency, Money, Quantity, Sku};

    use super::*;
    use crate::domain::{
        CancelCause, EventId, NotificationId, NotificationStatus, OrderId, OrderLine, ShortLine,
        UserId,
    };

    fn eur(amount_minor: i64) -> Money {
        Money::new(amount_minor, Currency::parse("EUR").unwrap()).unwrap()
    }

    fn order() -> OrderCopy {
        OrderCopy::new(
            OrderId::generate(),
            UserId::generate(),
            Currency::parse("EUR").unwrap(),
            vec![OrderLine {
                sku: Sku::parse("TEE-RED-M").unwrap(),
                title: "Tee <red> & \"bold\"".to_owned(),
                quantity: Quantity::new(2).unwrap(),
                unit_price: eur(1999),
                line_total: eur(3998),
            }],
            eur(4497),
            Some(uuid::Uuid::now_v7()),
            Utc::now(),
        )
        .unwrap()
    }

    fn notification(order: &OrderCopy, details: MailDetails) -> Notification {
        Notification {
            id: NotificationId::generate(),
            event_id: EventId::generate(),
            event_type: "orders.order_confirmed.v1".to_owned(),
            order_id: order.order_id,
            user_id: Some(order.user_id),
            status: NotificationStatus::Pending,
            details,
            occurred_at: Utc::now(),
            attempts: 0,
            recipient: None,
            subject: None,
            sent_at: None,
        }
    }

    fn jane() -> ContactEmail {
        ContactEmail::parse("jane@example.com").unwrap()
    }

    #[test]
    fn the_confirmation_shows_lines_totals_and_shipping_in_text_and_escaped_html() {
        let order = order();
        let mail = render(
            &notification(&order, MailDetails::OrderConfirmed),
            &jane(),
            "Jane",
            Some(&order),
        )
        .unwrap();
        assert_eq!(mail.to.to_string(), "jane@example.com");
        assert_eq!(
            mail.subject,
            format!("Your order {} is confirmed", order.order_id)
        );
        let text = &mail.text_body;
        assert!(text.starts_with("Hello Jane,\n"), "{text}");
        assert!(
            text.contains("2 x Tee <red> & \"bold\" (TEE-RED-M) at EUR 19.99: EUR 39.98"),
            "{text}"
        );
        assert!(text.contains("Subtotal: EUR 39.98"), "{text}");
        assert!(text.contains("Shipping (option "), "{text}");
        assert!(text.contains("): EUR 4.99"), "{text}");
        assert!(text.contains("Total: EUR 44.97"), "{text}");
        assert!(
            text.contains(&format!("Order {}", order.order_id)),
            "{text}"
        );
        let html = mail.html_body.unwrap();
        assert!(
            html.contains("Tee &#60;red&#62; &#38; &#34;bold&#34;"),
            "{html}"
        );
        assert!(!html.contains("<red>"), "{html}");
        assert!(html.contains("<strong>EUR 44.97</strong>"), "{html}");
    }

    #[test]
    fn the_confirmation_without_the_order_cannot_be_rendered() {
        let order = order();
        let error = render(
            &notification(&order, MailDetails::OrderConfirmed),
            &jane(),
            "Jane",
            None,
        )
        .unwrap_err();
        assert!(matches!(error, RenderError::OrderUnknown { .. }), "{error}");
    }

    #[test]
    fn the_rejection_lists_the_short_lines_with_their_titles() {
        let order = order();
        let details = MailDetails::OrderRejected {
            reason: RejectionReason::OutOfStock,
            short_lines: vec![ShortLine {
                sku: "TEE-RED-M".to_owned(),
                requested: 2,
                available: 1,
            }],
        };
        let mail = render(
            &notification(&order, details.clone()),
            &jane(),
            "",
            Some(&order),
        )
        .unwrap();
        assert!(mail.text_body.starts_with("Hello,\n"), "{}", mail.text_body);
        assert!(
            mail.text_body
                .contains("Tee <red> & \"bold\" (TEE-RED-M): 2 ordered, 1 available"),
            "{}",
            mail.text_body
        );
        // Without the order copy the SKU stands in for the title.
        let mail = render(&notification(&order, details), &jane(), "", None).unwrap();
        assert!(
            mail.text_body.contains("TEE-RED-M (TEE-RED-M): 2 ordered"),
            "{}",
            mail.text_body
        );
    }

    #[test]
    fn the_cancel_explains_its_cause_and_the_shipment_mails_their_facts() {
        let order = order();
        let canceled = render(
            &notification(
                &order,
                MailDetails::OrderCanceled {
                    cause: CancelCause::PaymentFailed,
                    reason: "card declined".to_owned(),
                },
            ),
            &jane(),
            "Jane",
            None,
        )
        .unwrap();
        assert!(canceled.text_body.contains("Your payment was declined."));
        assert!(canceled.text_body.contains("Reason: card declined"));
        let shipped = render(
            &notification(
                &order,
                MailDetails::ShipmentShipped {
                    carrier: "DHL".to_owned(),
                    tracking_number: "JJD0001".to_owned(),
                },
            ),
            &jane(),
            "Jane",
            Some(&order),
        )
        .unwrap();
        assert_eq!(
            shipped.subject,
            format!("Your order {} is on its way", order.order_id)
        );
        assert!(
            shipped
                .text_body
                .contains("Carrier: DHL\nTracking number: JJD0001\n")
        );
        let delivered = render(
            &notification(&order, MailDetails::ShipmentDelivered),
            &jane(),
            "Jane",
            Some(&order),
        )
        .unwrap();
        assert_eq!(
            delivered.subject,
            format!("Your order {} was delivered", order.order_id)
        );
        assert!(delivered.text_body.contains("We hope you enjoy it."));
    }
}
