document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("status").textContent = "JavaScript ran: the whole site came from one image.";
});
